// A picture as a small JPEG, on the phone before it is stored or sent: decoded
// (createImageBitmap, the camera's EXIF orientation applied), scaled to at most MAX_SIDE px on
// the long side, encoded with the quality stepped down until it is at most MAX_BYTES, and with
// fewer pixels still if even the lowest quality is too big.

export const MAX_SIDE = 1600;
export const MAX_BYTES = 300 * 1024;
const QUALITIES = [0.85, 0.75, 0.65, 0.55, 0.45, 0.35];
const SHRINK = 0.8; // when even the lowest quality is too big: fewer pixels, and again

async function decode(file) {
  try {
    return await createImageBitmap(file, { imageOrientation: "from-image" });
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
    return createImageBitmap(file); // an engine that knows no such option
  }
}

function canvasOf(width, height) {
  if (typeof OffscreenCanvas !== "undefined") return new OffscreenCanvas(width, height);
  return Object.assign(document.createElement("canvas"), { width, height });
}

function jpeg(canvas, quality) {
  if (canvas.convertToBlob) return canvas.convertToBlob({ type: "image/jpeg", quality });
  return new Promise((resolve, reject) =>
    canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error("JPEG encoding failed"))), "image/jpeg", quality));
}

/** A picture file as a small JPEG: { bytes, width, height, quality }. */
export async function shrink(file) {
  const bitmap = await decode(file);
  try {
    let scale = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
    for (;;) {
      const width = Math.max(1, Math.round(bitmap.width * scale));
      const height = Math.max(1, Math.round(bitmap.height * scale));
      const canvas = canvasOf(width, height);
      const context = canvas.getContext("2d");
      context.fillStyle = "#fff"; // a transparent PNG becomes white paper, not black
      context.fillRect(0, 0, width, height);
      context.drawImage(bitmap, 0, 0, width, height);
      for (const quality of QUALITIES) {
        const blob = await jpeg(canvas, quality);
        if (blob.size <= MAX_BYTES) return { bytes: new Uint8Array(await blob.arrayBuffer()), width, height, quality };
      }
      scale *= SHRINK;
    }
  } finally {
    bitmap.close();
  }
}
