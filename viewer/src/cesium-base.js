// Imported before CesiumJS so that Cesium finds its workers and assets under /cesium/.
window.CESIUM_BASE_URL = "/cesium/";
