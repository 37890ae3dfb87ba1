"""Extension objects shared by the blueprints, bound to an app in create_app."""

from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()
