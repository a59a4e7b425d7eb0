// Types of the vendored idb (static/vendor/idb-8.0.4.js) for the type check (jsconfig.json):
// idb's own declarations, from the same version installed by npm as a test tool.
export * from "idb";
