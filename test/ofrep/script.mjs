// A real OpenFeature client for canary's flag service tests: the official
// server SDK (@openfeature/server-sdk) with the OFREP provider
// (@openfeature/ofrep-provider), evaluating flags against a running canary.
//
//   node script.mjs BASE_URL JOB_JSON
//
// JOB_JSON (all fields optional):
//   {"token": "…",                         bearer token for Authorization
//    "concurrency": 32,                    evaluations in flight
//    "sweeps": [{"flag": "f", "prefix": "user-", "count": 100000}],
//    "probes": [{"flag": "f", "context": {"targetingKey": "user-1"}}]}
//
// A sweep evaluates the boolean flag for targeting keys prefix+0 …
// prefix+(count-1) and reports how many were on, a bitmap of which (bit i
// of byte i>>3, least significant first, base64), and the reasons and
// error codes seen. A probe reports one evaluation's details. The result
// is one JSON object on stdout; a failure exits 1 with the error on stderr.
import { readFileSync } from 'node:fs';
import { OpenFeature } from '@openfeature/server-sdk';
import { OFREPProvider } from '@openfeature/ofrep-provider';

const [baseUrl, jobText = '{}'] = process.argv.slice(2);
if (!baseUrl) {
  console.error('usage: node script.mjs BASE_URL [JOB_JSON]');
  process.exit(2);
}
const job = JSON.parse(jobText);

function version(pkg) {
  const url = new URL(`./node_modules/${pkg}/package.json`, import.meta.url);
  return JSON.parse(readFileSync(url, 'utf8')).version;
}

const headers = job.token ? [['Authorization', `Bearer ${job.token}`]] : [];
await OpenFeature.setProviderAndWait(new OFREPProvider({ baseUrl, headers }));
const client = OpenFeature.getClient('canary-ofrep-test');

function details(d) {
  return {
    value: d.value,
    reason: d.reason,
    variant: d.variant ?? null,
    errorCode: d.errorCode ?? null,
    errorMessage: d.errorMessage ?? null,
    flagMetadata: d.flagMetadata ?? {},
  };
}

async function sweep({ flag, prefix = 'user-', count }) {
  const bitmap = new Uint8Array(Math.ceil(count / 8));
  const reasons = {};
  const errors = {};
  let on = 0;
  let next = 0;
  async function worker() {
    while (next < count) {
      const i = next++;
      const d = await client.getBooleanDetails(flag, false, { targetingKey: prefix + i });
      reasons[d.reason] = (reasons[d.reason] ?? 0) + 1;
      if (d.errorCode) {
        errors[d.errorCode] = (errors[d.errorCode] ?? 0) + 1;
      }
      if (d.value === true) {
        on++;
        bitmap[i >> 3] |= 1 << (i & 7);
      }
    }
  }
  const n = Math.max(1, Math.min(job.concurrency ?? 32, count));
  await Promise.all(Array.from({ length: n }, worker));
  return { flag, prefix, count, on, bitmap: Buffer.from(bitmap).toString('base64'), reasons, errors };
}

const started = Date.now();
const out = {
  sdk: {
    '@openfeature/server-sdk': version('@openfeature/server-sdk'),
    '@openfeature/ofrep-provider': version('@openfeature/ofrep-provider'),
  },
  sweeps: [],
  probes: [],
};
for (const s of job.sweeps ?? []) {
  out.sweeps.push(await sweep(s));
}
for (const p of job.probes ?? []) {
  out.probes.push({ flag: p.flag, ...details(await client.getBooleanDetails(p.flag, false, p.context ?? {})) });
}
out.elapsedMs = Date.now() - started;
await OpenFeature.close();
process.stdout.write(JSON.stringify(out) + '\n');
