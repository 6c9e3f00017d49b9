// The browser build never decodes PNG/JPEG bytes through @phalanx/data (the page uses the browser's
// own decoders); this stub stands in for the Node-only pngjs / jpeg-js so that vite does not bundle them.
export default {};
