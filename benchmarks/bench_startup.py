"""Cold start: a fresh interpreter imports target_app and builds the app."""


class ColdStart:
    repeat = (2, 3, 1.5)
    rounds = 1
    number = 1

    def timeraw_import_and_create_app(self):
        return """
        from target_app import create_app
        create_app({"DATABASE_URL": "sqlite://", "SECRET_KEY": "bench"})
        """
