// A noisy 3000×2000 JPEG drawn in the page (seeded, so repeatable), as base64: a phone
// camera's photo for the photo tests and bench/agent_case_bytes.py. Run by page.evaluate.
async (seed) => {
  const [w, h] = [3000, 2000];
  const canvas = Object.assign(document.createElement("canvas"), { width: w, height: h });
  const c = canvas.getContext("2d");
  let s = seed;
  const rnd = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
  const g = c.createLinearGradient(0, 0, w, h);
  g.addColorStop(0, "#d9c8a0"); g.addColorStop(1, "#405a78");
  c.fillStyle = g; c.fillRect(0, 0, w, h);
  for (let i = 0; i < 400; i++) {
    c.fillStyle = `hsl(${rnd() * 360} 60% ${30 + rnd() * 50}%)`;
    c.fillRect(rnd() * w, rnd() * h, rnd() * 400, rnd() * 300);
  }
  const image = c.getImageData(0, 0, w, h);
  for (let i = 0; i < image.data.length; i++) image.data[i] += (rnd() - 0.5) * 40;
  c.putImageData(image, 0, 0);
  const blob = await new Promise((ok) => canvas.toBlob(ok, "image/jpeg", 0.92));
  const bytes = new Uint8Array(await blob.arrayBuffer());
  let binary = "";
  for (let i = 0; i < bytes.length; i += 32768) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 32768));
  }
  return btoa(binary);
}
