// Runs graphql-http's server audits against a running auditgraph.
//
//   npm install && node run.mjs http://127.0.0.1:18090/graphql [API_KEY]
//
// The key (argument or AUDITGRAPH_KEY) is sent as `Authorization: Bearer …` on
// every request. Prints each audit's result; exits 1 when a MUST audit fails.
import { serverAudits } from 'graphql-http';

const url = process.argv[2];
const key = process.argv[3] ?? process.env.AUDITGRAPH_KEY;
if (!url) {
  console.error('usage: node run.mjs <graphql URL> [API key]');
  process.exit(2);
}

const fetchFn = (input, init = {}) => {
  const headers = new Headers(init.headers);
  if (key) headers.set('authorization', `Bearer ${key}`);
  return fetch(input, { ...init, headers });
};

const counts = { ok: 0, warn: 0, error: 0 };
const failedMust = [];
for (const audit of serverAudits({ url, fetchFn })) {
  let result;
  try {
    result = await audit.fn();
  } catch (err) {
    result = { status: 'error', reason: `audit threw: ${err}` };
  }
  counts[result.status] = (counts[result.status] ?? 0) + 1;
  const mark = { ok: 'ok  ', warn: 'WARN', error: 'FAIL' }[result.status] ?? result.status;
  console.log(`${mark} ${audit.id} ${audit.name}`);
  if (result.status !== 'ok') {
    console.log(`     ${result.reason}`);
    if (result.response) {
      let body = '';
      try {
        body = await result.response.text();
      } catch {
        // already read
      }
      console.log(`     -> HTTP ${result.response.status} ${result.response.headers.get('content-type') ?? ''} ${body.slice(0, 200)}`);
    }
    if (result.status === 'error' && audit.name.startsWith('MUST')) failedMust.push(audit);
  }
}
console.log(`\n${counts.ok} ok, ${counts.warn} warnings (SHOULD/MAY), ${counts.error} errors (MUST)`);
if (failedMust.length) {
  console.log(`failed MUST audits: ${failedMust.map((a) => a.id).join(', ')}`);
  process.exit(1);
}
