// Types of the vendored signature_pad (static/vendor/signature_pad-5.1.4.js) for the type check (jsconfig.json):
// signature_pad's own declarations, from the same version installed by npm as a test tool.
export * from "signature_pad";
export { default } from "signature_pad";
