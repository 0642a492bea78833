// Runs the steps of steps.json through jira.js against a userprops server
// and writes what each answered, as JSON, to the file TRANSCRIPT:
// [{"step","status","key"?,"value"?,"keys"?,"accountIds"?,"total"?,"message"?},…].
// ../remotecheck runs the same steps through the Go client and fails where
// its answers differ. The success statuses (201 or 200, 204), which jira.js
// does not return, are read from the responses of jira.js's own fetch calls.
//
//   JIRA_HOST=… ADMIN_EMAIL=… ADMIN_TOKEN=… USER_EMAIL=… USER_TOKEN=… TRANSCRIPT=out.json node agree.mjs
import { readFileSync, writeFileSync } from 'node:fs';
import { createCloudClient } from 'jira.js';

const { JIRA_HOST, ADMIN_EMAIL, ADMIN_TOKEN, USER_EMAIL, USER_TOKEN, TRANSCRIPT } = process.env;
const clients = {
  admin: createCloudClient({ host: JIRA_HOST, auth: { type: 'basic', email: ADMIN_EMAIL, apiToken: ADMIN_TOKEN } }),
  user: createCloudClient({ host: JIRA_HOST, auth: { type: 'basic', email: USER_EMAIL, apiToken: USER_TOKEN } }),
};
const { steps } = JSON.parse(readFileSync(new URL('./steps.json', import.meta.url)));

// jira.js calls the global fetch; the last status it saw is the step's.
let lastStatus;
const realFetch = globalThis.fetch;
globalThis.fetch = async (...args) => {
  const res = await realFetch(...args);
  lastStatus = res.status;
  return res;
};

async function run(step) {
  const jira = clients[step.as];
  const accountId = step.accountId;
  const propertyKey = step.keyLength ? 'k'.repeat(step.keyLength) : step.key;
  switch (step.op) {
    case 'set': {
      // A raw body is bytes, which jira.js sends untouched.
      const body = step.raw !== undefined ? new TextEncoder().encode(step.raw) : step.value;
      await jira.userProperties.setUserProperty({ accountId, propertyKey, body });
      return {};
    }
    case 'get': {
      const got = await jira.userProperties.getUserProperty({ accountId, propertyKey });
      return { key: got.key, value: got.value };
    }
    case 'keys': {
      const { keys } = await jira.userProperties.getUserPropertyKeys({ accountId });
      return { keys: keys.map((k) => k.key) };
    }
    case 'delete':
      await jira.userProperties.deleteUserProperty({ accountId, propertyKey });
      return {};
    case 'find': {
      const page = await jira.userSearch.findUserKeysByQuery({ query: step.query });
      return { accountIds: page.values.map((v) => v.accountId), total: page.total };
    }
  }
  throw new Error(`step ${step.name}: unknown op ${step.op}`);
}

const transcript = [];
for (const step of steps) {
  lastStatus = undefined;
  let entry;
  try {
    const got = await run(step);
    entry = { step: step.name, status: lastStatus, ...got };
  } catch (err) {
    if (typeof err.status !== 'number') throw err; // not an answer of the server's
    const messages = [...(err.body?.errorMessages ?? []), ...Object.values(err.body?.errors ?? {})];
    entry = { step: step.name, status: err.status, message: messages.join('; ') };
  }
  console.log(`jira.js: ${entry.step}: ${entry.status}${entry.message ? ' ' + entry.message : ''}`);
  transcript.push(entry);
}
writeFileSync(TRANSCRIPT, JSON.stringify(transcript, null, 2) + '\n');
