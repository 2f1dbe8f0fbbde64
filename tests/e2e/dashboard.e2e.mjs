// Browser end-to-end tests: a real deployment (`digitpipe up`: broker, infer and train workers,
// gateway serving the built dashboard) on ipc:// endpoints and a free loopback port, driven
// through Debian's Chromium with playwright-core. A person's session, step by step: draw a 7
// with real mouse strokes, upload a scanned-looking digit, browse samples, read the model,
// train a small experiment and watch progress arrive and the served model change, check the
// workers; plus the phone-sized layout. Screenshots go to tests/e2e/screenshots/ (look at them).
//
// Run: node --test tests/e2e/dashboard.e2e.mjs (ctest runs it as dashboard_e2e). Needs the
// build (build/bin, build/plugins), web/dashboard/dist, data/mnist and /usr/bin/chromium:
// deploy/test.sh provides all of them. Waits are bounded; nothing asserts on time.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
const bin = process.env.DIGITPIPE_BIN_DIR ?? path.join(repo, 'build/bin');
const plugins = process.env.DIGITPIPE_PLUGIN_DIR ?? path.join(repo, 'build/plugins');
const shots = path.join(here, 'screenshots');
const chromiumPath = '/usr/bin/chromium';
const chromiumArgs = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run'];

let work;       // temp folder: config, runs, experiments, log
let up;         // the digitpipe up process
let upLog = '';
let baseUrl;
let browser;

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function waitFor(what, predicate, timeoutMs = 60000, intervalMs = 200) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const value = await predicate();
      if (value) return value;
    } catch { /* not yet */ }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n--- digitpipe up ---\n${upLog}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

// Test image `index` of MNIST's t10k set: 28x28 bytes and its label.
function mnistTestImage(index) {
  const images = fs.readFileSync(path.join(repo, 'data/mnist/t10k-images-idx3-ubyte'));
  const labels = fs.readFileSync(path.join(repo, 'data/mnist/t10k-labels-idx1-ubyte'));
  return { pixels: images.subarray(16 + index * 784, 16 + (index + 1) * 784), label: labels[8 + index] };
}

const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// An 8-bit greyscale PNG of `pixels` (width x height, row-major).
function encodePngGray(pixels, width, height) {
  const chunk = (type, data) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 0; // greyscale
  const raw = Buffer.alloc((width + 1) * height);
  for (let y = 0; y < height; y++) {
    pixels.copy ? pixels.copy(raw, y * (width + 1) + 1, y * width, (y + 1) * width)
      : raw.set(pixels.subarray(y * width, (y + 1) * width), y * (width + 1) + 1);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header), chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', Buffer.alloc(0)),
  ]);
}

// A digit as a scan or photo of paper gives it: dark ink on a light, slightly uneven page,
// 6x larger than MNIST, the digit off-centre.
function scannedDigitPng(pixels) {
  const scale = 6, margin = 40, width = 28 * scale + 2 * margin + 30, height = 28 * scale + 2 * margin;
  const out = Buffer.alloc(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const paper = 235 - Math.round(10 * (x / width)); // light, a little shading
      const sx = Math.floor((x - margin - 30) / scale), sy = Math.floor((y - margin) / scale);
      const ink = sx >= 0 && sx < 28 && sy >= 0 && sy < 28 ? pixels[sy * 28 + sx] : 0;
      out[y * width + x] = Math.round(paper - (paper - 20) * (ink / 255));
    }
  }
  return encodePngGray(out, width, height);
}

async function screenshot(page, name) {
  fs.mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
}

before(async () => {
  for (const [what, file] of [['the build', path.join(bin, 'digitpipe')],
    ['the dashboard build', path.join(repo, 'web/dashboard/dist/index.html')],
    ['MNIST', path.join(repo, 'data/mnist/t10k-images-idx3-ubyte')],
    ["Debian's Chromium", chromiumPath]]) {
    if (!fs.existsSync(file)) throw new Error(`${what} is missing (${file}): run deploy/test.sh`);
  }
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'digitpipe-e2e-'));
  const experiments = path.join(work, 'experiments');
  fs.mkdirSync(experiments);
  // Small enough to finish in seconds on two cores, big enough to learn (about 95%).
  fs.writeFileSync(path.join(experiments, 'e2e.yaml'), [
    'name: e2e', 'seed: 5', 'model: quick', 'data: {dataset: mnist, limit: 6400}',
    'training: {epochs: 2, batch_size: 64, precision: fp32}', 'optimizer: {type: adam, lr: 0.002}', '',
  ].join('\n'));
  const port = await freePort();
  const tag = `digitpipe-e2e-${process.pid}`;
  const config = path.join(work, 'deploy.yaml');
  fs.writeFileSync(config, [
    'broker:',
    `  endpoint: ipc://@${tag}-broker`,
    `  events_in: ipc://@${tag}-events-in`,
    `  events_out: ipc://@${tag}-events-out`,
    'stages:',
    '  train: {plugin: train, params: {augmentation: local, progress_interval_ms: 100}}',
    '  infer: {plugin: infer, prefetch: 16, batch: {max_size: 16, max_wait_ms: 0}}',
    'paths:',
    `  plugins: ${plugins}`,
    `  data: ${path.join(repo, 'data')}`,
    `  models: ${path.join(repo, 'models')}`,
    `  runs: ${path.join(work, 'runs')}`,
    `  experiments: ${experiments}`,
    'gateway:',
    `  listen: 127.0.0.1:${port}`,
    `  dashboard: ${path.join(repo, 'web/dashboard/dist')}`,
    '',
  ].join('\n'));
  baseUrl = `http://127.0.0.1:${port}`;
  up = spawn(path.join(bin, 'digitpipe'), ['up', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  const keep = (chunk) => { upLog = (upLog + chunk).slice(-20000); };
  up.stdout.on('data', keep);
  up.stderr.on('data', keep);
  await waitFor('the gateway to be ready (/readyz 200)', async () => (await fetch(`${baseUrl}/readyz`)).ok);
  browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs });
});

after(async () => {
  await browser?.close();
  if (up && up.exitCode === null) {
    const exited = new Promise((r) => up.once('exit', r));
    up.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 15000))]);
    if (up.exitCode === null) up.kill('SIGKILL');
  }
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

async function openPage(tab, viewport = { width: 1280, height: 900 }) {
  const page = await browser.newPage({ viewport });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${baseUrl}/#/${tab}`);
  await page.getByTestId(`tab-${tab}`).waitFor();
  return { page, errors };
}

// Strokes in the canvas's own 280x280 coordinates, drawn with the real mouse.
async function drawStrokes(page, strokes) {
  const canvas = page.getByTestId('draw-canvas');
  const box = await canvas.boundingBox();
  const at = ([x, y]) => [box.x + (x / 280) * box.width, box.y + (y / 280) * box.height];
  for (const stroke of strokes) {
    const [x0, y0] = at(stroke[0]);
    await page.mouse.move(x0, y0);
    await page.mouse.down();
    for (const point of stroke.slice(1)) {
      const [x, y] = at(point);
      await page.mouse.move(x, y, { steps: 12 });
    }
    await page.mouse.up();
  }
}

test('drawing a 7 with the mouse is read as 7, live, with probabilities and the 28x28 input', async () => {
  const { page, errors } = await openPage('draw');
  // The top bar, then the long diagonal: a 7 as people write it.
  await drawStrokes(page, [[[80, 70], [200, 70]], [[200, 70], [170, 140], [130, 230]]]);
  const digit = page.getByTestId('predict-digit');
  await digit.waitFor({ timeout: 20000 });
  await waitFor('the prediction 7', async () => (await digit.textContent()).trim() === '7', 20000);
  const top = page.locator('[data-testid^="prob-bar-"][data-top="true"]');
  assert.equal(await top.getAttribute('data-testid'), 'prob-bar-7');
  assert.equal(await page.locator('[data-testid^="prob-bar-"]').count(), 10);
  assert.ok(await page.getByTestId('model-input').isVisible(), 'the 28x28 image the model saw');
  await screenshot(page, '01-draw-seven');

  // Undo removes the diagonal (what is left is no 7), Clear empties the canvas.
  await page.getByTestId('undo-button').click();
  assert.equal(await page.getByTestId('draw-canvas').getAttribute('data-strokes'), '1');
  await page.getByTestId('clear-button').click();
  assert.equal(await page.getByTestId('draw-canvas').getAttribute('data-strokes'), '0');
  assert.deepEqual(errors, []);
  await page.close();
});

test('an uploaded scan of a digit is read right', async () => {
  const { page, errors } = await openPage('upload');
  const { pixels, label } = mnistTestImage(1); // a 2
  const file = path.join(work, 'scan.png');
  fs.writeFileSync(file, scannedDigitPng(pixels));
  await page.getByTestId('upload-input').setInputFiles(file);
  const digit = page.getByTestId('predict-digit');
  await digit.waitFor({ timeout: 20000 });
  assert.equal((await digit.textContent()).trim(), String(label));
  assert.ok(await page.getByTestId('upload-preview').isVisible());
  await screenshot(page, '02-upload');
  assert.deepEqual(errors, []);
  await page.close();
});

test('samples show twelve test images with label, prediction and confidence', async () => {
  const { page, errors } = await openPage('samples');
  const cards = page.getByTestId('sample-card');
  await waitFor('12 samples', async () => (await cards.count()) === 12, 20000);
  const first = await cards.first().getAttribute('data-correct');
  assert.ok(first === 'true' || first === 'false');
  await page.getByTestId('samples-refresh').click();
  await waitFor('12 samples again', async () => (await cards.count()) === 12, 20000);
  await screenshot(page, '03-samples');
  assert.deepEqual(errors, []);
  await page.close();
});

test('the model view shows the shipped model: accuracy, per-class metrics, confusion matrix, curves', async () => {
  const { page, errors } = await openPage('model');
  const accuracy = page.getByTestId('model-accuracy');
  await accuracy.waitFor({ timeout: 20000 });
  assert.match(await accuracy.textContent(), /99\.67/);
  assert.equal(await page.getByTestId('confusion-cell').count(), 100);
  assert.ok(await page.getByTestId('class-metrics').isVisible());
  assert.ok(await page.getByTestId('model-curves').isVisible());
  await screenshot(page, '04-model');
  assert.deepEqual(errors, []);
  await page.close();
});

test('training from the dashboard shows live progress, finishes, and the served model changes', async () => {
  const { page, errors } = await openPage('train');
  await page.getByTestId('train-experiment').selectOption('e2e');
  await page.getByTestId('train-start').click();
  const state = page.getByTestId('train-state');
  await waitFor('the run to start', async () => (await state.getAttribute('data-state')) === 'running', 30000, 50);
  const progress = page.getByTestId('train-progress');
  await waitFor('progress to arrive', async () => Number(await progress.getAttribute('aria-valuenow')) > 0, 60000, 50);
  await screenshot(page, '05-train-running');
  await waitFor('the run to finish', async () => (await state.getAttribute('data-state')) === 'finished', 180000);
  const job = page.locator('[data-testid="job-row"][data-state="finished"]');
  await waitFor('the finished run in the list', async () => (await job.count()) >= 1, 20000);
  await screenshot(page, '06-train-finished');

  // The infer worker swapped in the new model (model.loaded): model info now names its run.
  const runId = await job.first().getAttribute('data-job-id');
  assert.match(runId, /^e2e-/);
  await waitFor('the new model to serve', async () => {
    const info = await (await fetch(`${baseUrl}/api/model_info`)).json();
    return info.run === runId;
  }, 30000);
  await page.getByTestId('tab-model').click();
  await waitFor('the model view to show the new run', async () =>
    (await page.getByTestId('model-accuracy').textContent()) && !(await page.getByTestId('model-accuracy').textContent()).includes('99.67'), 20000);
  await screenshot(page, '07-model-after-training');

  // Back to the shipped model, from the Model view.
  await page.getByTestId('model-restore').click();
  await waitFor('the shipped model to serve again', async () =>
    ((await page.getByTestId('model-accuracy').textContent()) ?? '').includes('99.67'), 30000);
  assert.deepEqual(errors, []);
  await page.close();
});

test('the workers view lists the services and their workers', async () => {
  const { page, errors } = await openPage('workers');
  const infer = page.locator('[data-testid="worker-row"][data-service="digitpipe.infer"]');
  await infer.waitFor({ timeout: 20000 });
  assert.ok(await page.locator('[data-testid="worker-row"][data-service="digitpipe.train"]').isVisible());
  await screenshot(page, '08-workers');
  assert.deepEqual(errors, []);
  await page.close();
});

test('on a phone-sized screen the drawing canvas fits and drawing works by touch-sized strokes', async () => {
  const { page, errors } = await openPage('draw', { width: 375, height: 667 });
  const box = await page.getByTestId('draw-canvas').boundingBox();
  assert.ok(box.x >= 0 && box.x + box.width <= 375, `canvas ${JSON.stringify(box)} fits 375 px`);
  await drawStrokes(page, [[[140, 50], [140, 240]]]); // a 1
  const digit = page.getByTestId('predict-digit');
  await digit.waitFor({ timeout: 20000 });
  await waitFor('the prediction 1', async () => (await digit.textContent()).trim() === '1', 20000);
  await screenshot(page, '09-phone-draw');
  assert.deepEqual(errors, []);
  await page.close();
});
