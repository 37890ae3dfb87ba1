/* The site opened from the file system (file://, a downloaded CI artefact): the browser refuses asv's
   requests for its JSON data there, so publish writes each data file also as a script (NAME.json.js,
   which calls asvOffline with the data) and this transport loads that script instead. Served over
   http, it does nothing. Written by this project (scripts/site/publish.py), not part of asv. */
(function ($) {
    "use strict";
    if (window.location.protocol !== "file:") {
        return;
    }
    var waiting = {};
    window.asvOffline = function (data) {
        var src = document.currentScript && document.currentScript.src;
        var callbacks = waiting[src] || [];
        delete waiting[src];
        callbacks.forEach(function (callback) { callback(data); });
    };
    $.ajaxTransport("+*", function (options) {
        var path = options.url.split("#")[0].split("?")[0];
        if (!/\.json$/.test(path)) {
            return undefined;
        }
        var script = null;
        return {
            send: function (_headers, done) {
                script = document.createElement("script");
                script.src = path + ".js";
                var key = script.src;
                (waiting[key] = waiting[key] || []).push(function (data) {
                    done(200, "OK", {text: JSON.stringify(data)});
                });
                script.onload = function () { script.parentNode.removeChild(script); };
                script.onerror = function () {
                    delete waiting[key];
                    done(404, "Not Found");
                };
                document.head.appendChild(script);
            },
            abort: function () {
                if (script && script.parentNode) {
                    script.parentNode.removeChild(script);
                }
            }
        };
    });
})(jQuery);
