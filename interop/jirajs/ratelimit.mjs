// Drives a userprops server started with a small per-account limit
// (--account-rate 0.5 --account-burst 2) through jira.js: jira.js must see
// the 429 as its RateLimitError with Retry-After, and its withRetry helper,
// told to retry rate limits, must wait that long and then succeed.
//
//   JIRA_HOST=https://127.0.0.1:8443 JIRA_EMAIL=… JIRA_TOKEN=… ACCOUNT_ID=admin node ratelimit.mjs
import assert from 'node:assert/strict';
import { createCloudClient, isRateLimitError } from 'jira.js';
import { withRetry } from 'jira.js/core';

const { JIRA_HOST, JIRA_EMAIL, JIRA_TOKEN, ACCOUNT_ID: accountId } = process.env;
const jira = createCloudClient({
  host: JIRA_HOST,
  auth: { type: 'basic', email: JIRA_EMAIL, apiToken: JIRA_TOKEN },
});
const list = () => jira.userProperties.getUserPropertyKeys({ accountId });

// Spend the burst, then the next call is refused.
let limited;
for (let i = 0; i < 10 && !limited; i++) {
  try {
    await list();
  } catch (err) {
    limited = err;
  }
}
assert.ok(limited, 'ten calls in a row were never rate limited');
assert.ok(isRateLimitError(limited), `not a RateLimitError: ${limited}`);
assert.equal(limited.status, 429);
assert.ok(limited.retryAfterMs >= 1000, `retryAfterMs ${limited.retryAfterMs}`);
assert.match(JSON.stringify(limited.body), /Rate limit exceeded/);
console.log(`rate limited: ${limited.name} ${limited.status}, retry after ${limited.retryAfterMs} ms`);

// withRetry with retryRateLimit waits out Retry-After, then the call goes through.
const start = Date.now();
const { keys } = await withRetry(list, { maxAttempts: 3, retryRateLimit: true });
const waited = Date.now() - start;
assert.ok(Array.isArray(keys));
assert.ok(waited >= limited.retryAfterMs - 50, `withRetry waited ${waited} ms, Retry-After said ${limited.retryAfterMs}`);
console.log(`withRetry waited ${waited} ms and succeeded`);
console.log('jira.js rate limits: OK');
