// Sets, gets, lists and deletes user properties on a userprops server through
// jira.js, a widely used Jira Cloud client, exactly as an app would against
// https://your-domain.atlassian.net. Exits non-zero on the first mismatch.
//
//   JIRA_HOST=http://127.0.0.1:8080 JIRA_EMAIL=admin@userprops.localhost JIRA_TOKEN=… ACCOUNT_ID=admin node check.mjs
import assert from 'node:assert/strict';
import { createCloudClient } from 'jira.js';

const { JIRA_HOST, JIRA_EMAIL, JIRA_TOKEN, ACCOUNT_ID } = process.env;
const jira = createCloudClient({
  host: JIRA_HOST,
  auth: { type: 'basic', email: JIRA_EMAIL, apiToken: JIRA_TOKEN },
});
const accountId = ACCOUNT_ID;
const value = { theme: 'dark', columns: [1, 2, 3], nested: { ok: true }, text: 'é 😀' };

for (const propertyKey of ['settings', 'dashboard.layout', 'with space']) {
  await jira.userProperties.setUserProperty({ accountId, propertyKey, body: value });
  const got = await jira.userProperties.getUserProperty({ accountId, propertyKey });
  assert.equal(got.key, propertyKey);
  assert.deepEqual(got.value, value);
  console.log(`set and got ${JSON.stringify(propertyKey)}`);
}

// A second set of the same key updates it.
await jira.userProperties.setUserProperty({ accountId, propertyKey: 'settings', body: { theme: 'light' } });
assert.deepEqual((await jira.userProperties.getUserProperty({ accountId, propertyKey: 'settings' })).value, { theme: 'light' });

const { keys } = await jira.userProperties.getUserPropertyKeys({ accountId });
assert.deepEqual(keys.map((k) => k.key), ['dashboard.layout', 'settings', 'with space']);
for (const k of keys) {
  assert.ok(k.self.startsWith(JIRA_HOST + '/rest/api/3/user/properties/'), k.self);
}
console.log(`listed ${keys.length} keys`);

for (const { key } of keys) {
  await jira.userProperties.deleteUserProperty({ accountId, propertyKey: key });
}
assert.deepEqual((await jira.userProperties.getUserPropertyKeys({ accountId })).keys, []);
console.log('deleted them all');

// Jira's errors come back as jira.js errors with Jira's status.
await assert.rejects(
  jira.userProperties.getUserProperty({ accountId, propertyKey: 'settings' }),
  (err) => { console.log(`missing property: ${err.name} ${err.status ?? ''} ${err.message}`); return true; },
);
console.log('jira.js interop: OK');
