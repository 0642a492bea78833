// Sets, gets, lists and deletes user properties on a userprops server through
// jira.js, a widely used Jira Cloud client, exactly as an app would against
// https://your-domain.atlassian.net, then finds the user by a property and
// reads the user resources. jira.js checks every answer against its schema of
// Jira's (absolute URLs included). Exits non-zero on the first mismatch.
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
// Finding users by property, and the user resources.
const location = { office: { country: 'AU', city: 'Sydney' } };
await jira.userProperties.setUserProperty({ accountId, propertyKey: 'location', body: location });
const structured = '[location].office.city is "Sydney"';

const byProperty = await jira.userSearch.findUsers({ property: 'location.office.city=Sydney' });
assert.deepEqual(byProperty.map((u) => u.accountId), [accountId]);
assert.equal(byProperty[0].accountType, 'atlassian');
assert.equal(byProperty[0].active, true);
console.log(`findUsers({property}) found ${byProperty.length}`);
assert.deepEqual(await jira.userSearch.findUsers({ property: 'location.office.city=Perth' }), []);

const page = await jira.userSearch.findUsersByQuery({ query: structured });
assert.equal(page.total, 1);
assert.equal(page.isLast, true);
assert.equal(page.startAt, 0);
assert.deepEqual(page.values.map((u) => u.accountId), [accountId]);
assert.ok(page.self.startsWith(JIRA_HOST + '/rest/api/3/user/search/query?'), page.self);
console.log(`findUsersByQuery found ${page.total}`);

const keys2 = await jira.userSearch.findUserKeysByQuery({ query: structured, maxResult: 10 });
assert.equal(keys2.total, 1);
assert.equal(keys2.maxResults, 10);
assert.deepEqual(keys2.values, [{ accountId }]);
console.log(`findUserKeysByQuery found ${keys2.total}`);

await assert.rejects(
  jira.userSearch.findUsersByQuery({ query: '[location].office.city = "Sydney"' }),
  (err) => { assert.equal(err.status, 400); console.log(`invalid query: ${err.status} ${err.message}`); return true; },
);

const user = await jira.users.getUser({ accountId });
assert.equal(user.accountId, accountId);
assert.equal(user.emailAddress, JIRA_EMAIL, 'an administrator sees the email');
assert.ok(user.self.startsWith(JIRA_HOST + '/rest/api/3/user?accountId='), user.self);
for (const size of ['16x16', '24x24', '32x32', '48x48']) {
  const res = await fetch(user.avatarUrls[size]);
  assert.equal(res.status, 200, `avatar ${size}`);
  assert.equal(res.headers.get('content-type'), 'image/svg+xml');
}
console.log(`getUser: ${user.displayName}`);

const me = await jira.myself.getCurrentUser();
assert.equal(me.accountId, accountId);
assert.equal(me.active, true);
assert.equal(me.accountType, 'atlassian');
assert.equal(typeof me.timeZone, 'string');
assert.equal(typeof me.locale, 'string');
console.log(`getCurrentUser: ${me.accountId}`);

await jira.userProperties.deleteUserProperty({ accountId, propertyKey: 'location' });
assert.deepEqual(await jira.userSearch.findUsers({ property: 'location.office.city=Sydney' }), []);
console.log('jira.js interop: OK');
