// The split-sum BRDF look-up table of CesiumJS's image-based lighting (Karis 2013, "Real Shading in
// Unreal Engine 4"), computed on the CPU. Cesium renders it on the GPU before the first model is drawn,
// 256 × 256 texels of 1,024 GGX importance samples each: with software WebGL (SwiftShader, no GPU) that one
// draw takes about two seconds, the largest single cost of the console's first view. The same integral
// (Cesium's BrdfLutGeneratorFS.glsl: Hammersley points, GGX importance sampling, Smith joint GGX
// visibility) at 32 × 32 texels of 256 samples, linearly filtered, is about 30 ms of JavaScript.
import * as Cesium from "/cesium/index.js";

const SIZE = 32;
const SAMPLES = 256;

/** Van der Corput radical inverse in base 2 of ``i`` (the second Hammersley coordinate). */
function radicalInverse(i) {
  let bits = i >>> 0;
  bits = ((bits << 16) | (bits >>> 16)) >>> 0;
  bits = (((bits & 0x55555555) << 1) | ((bits & 0xaaaaaaaa) >>> 1)) >>> 0;
  bits = (((bits & 0x33333333) << 2) | ((bits & 0xcccccccc) >>> 2)) >>> 0;
  bits = (((bits & 0x0f0f0f0f) << 4) | ((bits & 0xf0f0f0f0) >>> 4)) >>> 0;
  bits = (((bits & 0x00ff00ff) << 8) | ((bits & 0xff00ff00) >>> 8)) >>> 0;
  return bits / 4294967296;
}

/** The (scale, bias) applied to F0 for a surface seen at cos θ = ``nDotV`` with perceptual ``roughness``. */
export function integrateBrdf(roughness, nDotV, samples = SAMPLES) {
  const alpha = roughness * roughness;
  const alpha2 = alpha * alpha;
  const vx = Math.sqrt(1 - nDotV * nDotV);
  const vz = nDotV;
  let a = 0;
  let b = 0;
  for (let i = 0; i < samples; i++) {
    const phi = (2 * Math.PI * i) / samples;
    const xi = radicalInverse(i);
    const cosTheta = Math.sqrt((1 - xi) / (1 + (alpha2 - 1) * xi));
    const sinTheta = Math.sqrt(1 - cosTheta * cosTheta);
    const hx = sinTheta * Math.cos(phi);
    const hz = cosTheta;
    const vDotH = vx * hx + vz * hz;
    const lz = 2 * vDotH * hz - vz;
    if (lz <= 0) continue;
    const nDotL = Math.min(lz, 1);
    const nDotH = Math.min(Math.max(hz, 0), 1);
    const vh = Math.min(Math.max(vDotH, 0), 1);
    const ggxV = nDotL * Math.sqrt(nDotV * nDotV * (1 - alpha2) + alpha2);
    const ggxL = nDotV * Math.sqrt(nDotL * nDotL * (1 - alpha2) + alpha2);
    const visibility = ggxV + ggxL > 0 ? 0.5 / (ggxV + ggxL) : 0;
    const gVis = (4 * visibility * vh * nDotL) / nDotH;
    const fc = (1 - vh) ** 5;
    a += (1 - fc) * gVis;
    b += fc * gVis;
  }
  return [a / samples, b / samples];
}

/** RGBA bytes of the table, row ``j`` at roughness (j + ½)/size, column ``i`` at cos θ = (i + ½)/size. */
export function brdfLutBytes(size = SIZE, samples = SAMPLES) {
  const bytes = new Uint8Array(size * size * 4);
  for (let j = 0; j < size; j++) {
    for (let i = 0; i < size; i++) {
      const [a, b] = integrateBrdf((j + 0.5) / size, (i + 0.5) / size, samples);
      const k = 4 * (j * size + i);
      bytes[k] = Math.round(Math.min(Math.max(a, 0), 1) * 255);
      bytes[k + 1] = Math.round(Math.min(Math.max(b, 0), 1) * 255);
      bytes[k + 3] = 255;
    }
  }
  return bytes;
}

/**
 * Give ``scene`` this table before its first frame, so that Cesium does not render its own. Uses the
 * scene's BRDF generator's texture slot (CesiumJS keeps no public one); does nothing if that has changed.
 */
export function installBrdfLut(scene) {
  const generator = scene._brdfLutGenerator;
  if (!generator || generator._colorTexture !== undefined || !scene.context) return;
  generator._colorTexture = new Cesium.Texture({
    context: scene.context,
    width: SIZE,
    height: SIZE,
    pixelFormat: Cesium.PixelFormat.RGBA,
    pixelDatatype: Cesium.PixelDatatype.UNSIGNED_BYTE,
    source: { width: SIZE, height: SIZE, arrayBufferView: brdfLutBytes() },
    sampler: new Cesium.Sampler({
      wrapS: Cesium.TextureWrap.CLAMP_TO_EDGE,
      wrapT: Cesium.TextureWrap.CLAMP_TO_EDGE,
      minificationFilter: Cesium.TextureMinificationFilter.LINEAR,
      magnificationFilter: Cesium.TextureMagnificationFilter.LINEAR,
    }),
  });
}
