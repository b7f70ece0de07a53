// Drives Veil's KMS with the official Key Protect Node.js client (@ibm-cloud/ibm-key-protect,
// pinned in package.json / package-lock.json next to this file): create, list, get, wrap, unwrap,
// rewrap, rotate, disable, enable and delete, plus the errors a client sees. Prints each step;
// exits non-zero on the first failure. Run by tests/e2e/kms_node_e2e_test.cc; by hand, see
// docs/kms-compat.md.
//
// Environment:
//   VEIL_NODE_DIR      the directory whose node_modules holds the client (npm ci --prefix DIR)
//   VEIL_KMS_URL       the KMS service URL, e.g. http://127.0.0.1:8442
//   VEIL_KMS_INSTANCE  the bluemix-instance GUID of a "kms" resource instance
//   VEIL_TOKEN         a bearer token of a Manager of that instance
//   VEIL_IAM_URL, VEIL_APIKEY (optional)  also log in with the client's IamAuthenticator
'use strict';

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const path = require('node:path');
const { createRequire } = require('node:module');

function env(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`kms_client_test: ${name} is not set`);
    process.exit(2);
  }
  return value;
}

const nodeDir = env('VEIL_NODE_DIR');
const load = createRequire(path.join(path.resolve(nodeDir), 'package.json'));
const KeyProtectV2 = load('@ibm-cloud/ibm-key-protect/ibm-key-protect-api/v2');
const { BearerTokenAuthenticator, IamAuthenticator } = load('@ibm-cloud/ibm-key-protect/auth');
const clientVersion = load('@ibm-cloud/ibm-key-protect/package.json').version;

const serviceUrl = env('VEIL_KMS_URL');
const instance = env('VEIL_KMS_INSTANCE');
const token = env('VEIL_TOKEN');

const KEY_TYPE = 'application/vnd.ibm.kms.key+json';

function client(authenticator) {
  return new KeyProtectV2({ authenticator, serviceUrl });
}

const kp = client(new BearerTokenAuthenticator({ bearerToken: token }));
const base = { bluemixInstance: instance };

let stepCount = 0;
async function step(name, fn) {
  stepCount += 1;
  process.stdout.write(`[${stepCount}] ${name} ... `);
  try {
    await fn();
    console.log('ok');
  } catch (err) {
    console.log('FAILED');
    console.error(err && err.stack ? err.stack : err);
    if (err && err.status !== undefined) console.error(`status ${err.status}, body ${err.body}`);
    process.exit(1);
  }
}

// The promise must reject with a Key Protect error: this status, this reason code.
async function expectKpError(promise, status, code) {
  let err;
  try {
    await promise;
  } catch (e) {
    err = e;
  }
  assert.ok(err, `expected an error with status ${status}, the call succeeded`);
  assert.equal(err.status, status, `status (body: ${err.body})`);
  const body = typeof err.body === 'string' ? JSON.parse(err.body) : err.body;
  assert.equal(body.metadata.collectionType, 'application/vnd.ibm.kms.error+json');
  const reasons = body.resources[0].reasons;
  assert.ok(
    reasons.some((r) => r.code === code && r.status === status),
    `reason ${code} in ${err.body}`,
  );
  return err;
}

function keyBody(resource) {
  return {
    metadata: { collectionType: KEY_TYPE, collectionTotal: 1 },
    resources: [{ type: KEY_TYPE, ...resource }],
  };
}

function onlyKey(response) {
  assert.equal(response.result.metadata.collectionType, KEY_TYPE);
  assert.equal(response.result.metadata.collectionTotal, 1);
  assert.equal(response.result.resources.length, 1);
  return response.result.resources[0];
}

const b64 = (bytes) => Buffer.from(bytes).toString('base64');

async function main() {
  console.log(`@ibm-cloud/ibm-key-protect ${clientVersion} against ${serviceUrl}`);
  let rootId;
  let standardId;
  const standardPayload = b64(crypto.randomBytes(32));
  const aad = ['veil', 'kms-node-client'];
  let generatedDek;
  let generatedCiphertext;
  const givenDek = b64(crypto.randomBytes(32));
  let givenCiphertext;
  let firstVersion;
  let secondVersion;

  await step('createKey: a root key', async () => {
    const r = await kp.createKey({
      ...base,
      body: keyBody({ name: 'node-root', description: 'by the Node.js client', extractable: false }),
      correlationId: crypto.randomUUID(),
    });
    assert.equal(r.status, 201);
    const key = onlyKey(r);
    assert.equal(key.type, KEY_TYPE);
    assert.equal(key.name, 'node-root');
    assert.equal(key.extractable, false);
    assert.equal(key.state, 1);
    assert.match(key.id, /^[0-9a-f-]{36}$/);
    assert.ok(key.crn.endsWith(`:key:${key.id}`), key.crn);
    assert.equal(key.payload, undefined);
    rootId = key.id;
    firstVersion = key.keyVersion.id;
    assert.ok(firstVersion);
  });

  await step('createKey: a standard key with a given payload', async () => {
    const r = await kp.createKey({
      ...base,
      body: keyBody({ name: 'node-standard', extractable: true, payload: standardPayload }),
    });
    assert.equal(r.status, 201);
    const key = onlyKey(r);
    assert.equal(key.extractable, true);
    assert.equal(key.state, 1);
    standardId = key.id;
  });

  await step('getKeys: both keys, and limit/offset pages', async () => {
    const all = await kp.getKeys({ ...base });
    assert.equal(all.status, 200);
    assert.equal(all.result.metadata.collectionType, KEY_TYPE);
    assert.equal(all.result.metadata.collectionTotal, 2);
    const ids = all.result.resources.map((k) => k.id).sort();
    assert.deepEqual(ids, [rootId, standardId].sort());
    const first = await kp.getKeys({ ...base, limit: 1, offset: 0 });
    const second = await kp.getKeys({ ...base, limit: 1, offset: 1 });
    const beyond = await kp.getKeys({ ...base, limit: 1, offset: 2 });
    assert.equal(first.result.resources.length, 1);
    assert.equal(second.result.resources.length, 1);
    assert.equal(beyond.result.resources.length, 0);
    assert.deepEqual(
      [first.result.resources[0].id, second.result.resources[0].id].sort(),
      [rootId, standardId].sort(),
    );
    const roots = await kp.getKeys({ ...base, extractable: false });
    assert.deepEqual(
      roots.result.resources.map((k) => k.id),
      [rootId],
    );
  });

  await step('getKeyCollectionMetadata (HEAD): Key-Total', async () => {
    const r = await kp.getKeyCollectionMetadata({ ...base });
    assert.equal(r.status, 200);
    assert.equal(r.headers['key-total'], '2');
  });

  await step('getKey: the standard key with its payload', async () => {
    const r = await kp.getKey({ ...base, id: standardId });
    assert.equal(r.status, 200);
    const key = onlyKey(r);
    assert.equal(key.id, standardId);
    assert.equal(key.payload, standardPayload);
  });

  await step('getKey: the root key, without payload', async () => {
    const key = onlyKey(await kp.getKey({ ...base, id: rootId }));
    assert.equal(key.id, rootId);
    assert.equal(key.name, 'node-root');
    assert.equal(key.payload, undefined);
  });

  await step('getKeyMetadata', async () => {
    const key = onlyKey(await kp.getKeyMetadata({ ...base, id: standardId }));
    assert.equal(key.id, standardId);
    assert.equal(key.payload, undefined);
  });

  await step('wrapKey with aad: a generated DEK', async () => {
    const r = await kp.wrapKey({ ...base, id: rootId, keyActionWrapBody: { aad } });
    assert.equal(r.status, 200);
    assert.ok(r.result.ciphertext);
    assert.equal(Buffer.from(r.result.plaintext, 'base64').length, 32);
    assert.equal(r.result.keyVersion.id, firstVersion);
    generatedDek = r.result.plaintext;
    generatedCiphertext = r.result.ciphertext;
  });

  await step('wrapKey with a given plaintext', async () => {
    const r = await kp.wrapKey({
      ...base,
      id: rootId,
      keyActionWrapBody: { plaintext: givenDek, aad },
    });
    assert.equal(r.status, 200);
    assert.equal(r.result.plaintext, undefined, 'a given DEK is not echoed');
    assert.equal(r.result.keyVersion.id, firstVersion);
    givenCiphertext = r.result.ciphertext;
  });

  await step('unwrapKey: both DEKs come back', async () => {
    const a = await kp.unwrapKey({
      ...base,
      id: rootId,
      keyActionUnwrapBody: { ciphertext: generatedCiphertext, aad },
    });
    assert.equal(a.status, 200);
    assert.equal(a.result.plaintext, generatedDek);
    assert.equal(a.result.keyVersion.id, firstVersion);
    assert.equal(a.result.ciphertext, undefined, 'no rewrap before a rotation');
    const b = await kp.unwrapKey({
      ...base,
      id: rootId,
      keyActionUnwrapBody: { ciphertext: givenCiphertext, aad },
    });
    assert.equal(b.result.plaintext, givenDek);
  });

  await step('unwrapKey with the wrong aad: 422 UNPROCESSABLE_CIPHERTEXT_ERR', async () => {
    await expectKpError(
      kp.unwrapKey({
        ...base,
        id: rootId,
        keyActionUnwrapBody: { ciphertext: givenCiphertext, aad: ['other'] },
      }),
      422,
      'UNPROCESSABLE_CIPHERTEXT_ERR',
    );
  });

  await step('rewrapKey before a rotation', async () => {
    const r = await kp.rewrapKey({
      ...base,
      id: rootId,
      keyActionRewrapBody: { ciphertext: givenCiphertext, aad },
    });
    assert.equal(r.status, 200);
    assert.ok(r.result.ciphertext);
    assert.equal(r.result.keyVersion.id, firstVersion);
    assert.equal(r.result.rewrappedKeyVersion.id, firstVersion);
    const back = await kp.unwrapKey({
      ...base,
      id: rootId,
      keyActionUnwrapBody: { ciphertext: r.result.ciphertext, aad },
    });
    assert.equal(back.result.plaintext, givenDek);
  });

  await step('rotateKey: 204 and a new version', async () => {
    const r = await kp.rotateKey({ ...base, id: rootId });
    assert.equal(r.status, 204);
    const key = onlyKey(await kp.getKey({ ...base, id: rootId }));
    secondVersion = key.keyVersion.id;
    assert.notEqual(secondVersion, firstVersion);
    assert.ok(key.lastRotateDate);
    const versions = await kp.getKeyVersions({ ...base, id: rootId });
    assert.equal(versions.status, 200);
    assert.deepEqual(versions.result.resources.map((v) => v.id).sort(),
                     [firstVersion, secondVersion].sort());
  });

  await step('unwrapKey of a pre-rotation ciphertext: the DEK and its rewrapped ciphertext',
             async () => {
    const r = await kp.unwrapKey({
      ...base,
      id: rootId,
      keyActionUnwrapBody: { ciphertext: givenCiphertext, aad },
    });
    assert.equal(r.result.plaintext, givenDek);
    assert.equal(r.result.keyVersion.id, firstVersion);
    assert.ok(r.result.ciphertext, 'the rewrapped ciphertext');
    assert.notEqual(r.result.ciphertext, givenCiphertext);
    assert.equal(r.result.rewrappedKeyVersion.id, secondVersion);
    const again = await kp.unwrapKey({
      ...base,
      id: rootId,
      keyActionUnwrapBody: { ciphertext: r.result.ciphertext, aad },
    });
    assert.equal(again.result.plaintext, givenDek);
    assert.equal(again.result.keyVersion.id, secondVersion);
    assert.equal(again.result.ciphertext, undefined);
  });

  await step('rewrapKey after the rotation: to the new version', async () => {
    const r = await kp.rewrapKey({
      ...base,
      id: rootId,
      keyActionRewrapBody: { ciphertext: generatedCiphertext, aad },
    });
    assert.equal(r.result.keyVersion.id, firstVersion);
    assert.equal(r.result.rewrappedKeyVersion.id, secondVersion);
    const back = await kp.unwrapKey({
      ...base,
      id: rootId,
      keyActionUnwrapBody: { ciphertext: r.result.ciphertext, aad },
    });
    assert.equal(back.result.plaintext, generatedDek);
  });

  await step('disableKey: 204, state 2, and wrap is 409 KEY_ACTION_INVALID_STATE_ERR', async () => {
    const r = await kp.disableKey({ ...base, id: rootId });
    assert.equal(r.status, 204);
    assert.equal(onlyKey(await kp.getKey({ ...base, id: rootId })).state, 2);
    await expectKpError(
      kp.wrapKey({ ...base, id: rootId, keyActionWrapBody: { plaintext: givenDek } }),
      409,
      'KEY_ACTION_INVALID_STATE_ERR',
    );
    await expectKpError(
      kp.unwrapKey({
        ...base,
        id: rootId,
        keyActionUnwrapBody: { ciphertext: givenCiphertext, aad },
      }),
      409,
      'KEY_ACTION_INVALID_STATE_ERR',
    );
  });

  await step('enableKey: 204, state 1, wrap works again', async () => {
    const r = await kp.enableKey({ ...base, id: rootId });
    assert.equal(r.status, 204);
    assert.equal(onlyKey(await kp.getKey({ ...base, id: rootId })).state, 1);
    const w = await kp.wrapKey({ ...base, id: rootId, keyActionWrapBody: { plaintext: givenDek } });
    assert.equal(w.result.keyVersion.id, secondVersion);
  });

  await step('deleteKey: 204, then getKey shows state 5', async () => {
    const r = await kp.deleteKey({ ...base, id: rootId });
    assert.equal(r.status, 204);
    const key = onlyKey(await kp.getKey({ ...base, id: rootId }));
    assert.equal(key.state, 5);
    assert.equal(key.deleted, true);
    assert.ok(key.deletionDate);
    assert.equal(key.restoreAllowed, true);
    await expectKpError(
      kp.wrapKey({ ...base, id: rootId, keyActionWrapBody: {} }),
      410,
      'KEY_DELETED_ERR',
    );
  });

  await step('deleteKey with prefer return=representation: 200 and the key', async () => {
    const r = await kp.deleteKey({ ...base, id: standardId, prefer: 'return=representation' });
    assert.equal(r.status, 200);
    const key = onlyKey(r);
    assert.equal(key.id, standardId);
    assert.equal(key.state, 5);
  });

  await step('a wrong bluemix-instance: 404 INSTANCE_NOT_FOUND_ERR', async () => {
    await expectKpError(
      kp.getKeys({ bluemixInstance: crypto.randomUUID() }),
      404,
      'INSTANCE_NOT_FOUND_ERR',
    );
  });

  await step('an unknown key: 404 KEY_NOT_FOUND_ERR', async () => {
    const err = await expectKpError(
      kp.getKey({ ...base, id: crypto.randomUUID() }),
      404,
      'KEY_NOT_FOUND_ERR',
    );
    assert.ok(err.message);
  });

  await step('a bad bearer token: 401', async () => {
    const stranger = client(new BearerTokenAuthenticator({ bearerToken: 'not-a-token' }));
    let err;
    try {
      await stranger.getKeys({ ...base });
    } catch (e) {
      err = e;
    }
    assert.ok(err, 'the call succeeded');
    assert.equal(err.status, 401, err.body);
  });

  // The rest of the client's surface that Veil serves, on a fresh key.
  let otherId;
  await step('createKey with an alias; getKey by alias; correlation-id echoed', async () => {
    const correlationId = crypto.randomUUID();
    const r = await kp.createKey({
      ...base,
      body: keyBody({ name: 'node-other', extractable: false, aliases: ['node-alias'] }),
      correlationId,
    });
    assert.equal(r.headers['correlation-id'], correlationId);
    otherId = onlyKey(r).id;
    const byAlias = onlyKey(await kp.getKey({ ...base, id: 'node-alias' }));
    assert.equal(byAlias.id, otherId);
    assert.deepEqual(byAlias.aliases, ['node-alias']);
  });

  await step('createKeyAlias, deleteKeyAlias', async () => {
    const r = await kp.createKeyAlias({ ...base, id: otherId, alias: 'node-alias-2' });
    assert.equal(r.status, 201);
    assert.equal(r.result.resources[0].alias, 'node-alias-2');
    assert.equal(r.result.resources[0].keyId, otherId);
    const d = await kp.deleteKeyAlias({ ...base, id: otherId, alias: 'node-alias-2' });
    assert.equal(d.status, 204);
  });

  await step('createKeyRing, listKeyRings, a key in the ring (X-Kms-Key-Ring)', async () => {
    assert.equal((await kp.createKeyRing({ ...base, keyRingId: 'node-ring' })).status, 201);
    const rings = await kp.listKeyRings({ ...base });
    assert.ok(rings.result.resources.some((ring) => ring.id === 'node-ring'));
    const created = await kp.createKey({
      ...base,
      xKmsKeyRing: 'node-ring',
      body: keyBody({ name: 'node-ringed', extractable: true }),
    });
    const ringed = onlyKey(created);
    assert.equal(ringed.keyRingID, 'node-ring');
    const listed = await kp.getKeys({ ...base, xKmsKeyRing: 'node-ring' });
    assert.deepEqual(
      listed.result.resources.map((k) => k.id),
      [ringed.id],
    );
  });

  await step('putPolicy and getPolicy: rotation', async () => {
    const policyType = 'application/vnd.ibm.kms.policy+json';
    const r = await kp.putPolicy({
      ...base,
      id: otherId,
      policy: 'rotation',
      setKeyPoliciesOneOf: {
        metadata: { collectionType: policyType, collectionTotal: 1 },
        resources: [{ type: policyType, rotation: { enabled: true, interval_month: 3 } }],
      },
    });
    assert.equal(r.status, 200);
    const got = await kp.getPolicy({ ...base, id: otherId, policy: 'rotation' });
    assert.equal(got.result.resources[0].rotation.interval_month, 3);
  });

  await step('putInstancePolicy and getInstancePolicy: dualAuthDelete off', async () => {
    const r = await kp.putInstancePolicy({
      ...base,
      policy: 'dualAuthDelete',
      setInstancePoliciesOneOf: {
        metadata: { collectionType: 'application/vnd.ibm.kms.policy+json', collectionTotal: 1 },
        resources: [{ policy_type: 'dualAuthDelete', policy_data: { enabled: false } }],
      },
    });
    assert.equal(r.status, 204);
    const got = await kp.getInstancePolicy({ ...base, policy: 'dualAuthDelete' });
    assert.equal(got.result.resources[0].policy_type, 'dualAuthDelete');
    assert.equal(got.result.resources[0].policy_data.enabled, false);
  });

  await step('postImportToken, getImportToken', async () => {
    const r = await kp.postImportToken({ ...base, expiration: 600, maxAllowedRetrievals: 1 });
    assert.equal(r.result.maxAllowedRetrievals, 1);
    const got = await kp.getImportToken({ ...base });
    assert.ok(Buffer.from(got.result.payload, 'base64').toString().includes('PUBLIC KEY'));
    assert.ok(got.result.nonce);
  });

  await step('getRegistrations, getRegistrationsAllKeys, syncAssociatedResources', async () => {
    const r = await kp.getRegistrations({ ...base, id: otherId });
    assert.equal(r.status, 200);
    assert.equal(r.result.metadata.collectionType, 'application/vnd.ibm.kms.registration+json');
    assert.deepEqual(r.result.resources, []);
    const all = await kp.getRegistrationsAllKeys({ ...base });
    assert.equal(all.status, 200);
    assert.equal((await kp.syncAssociatedResources({ ...base, id: otherId })).status, 204);
  });

  await step('setKeyForDeletion without a dual-auth policy: 409 NOT_DUAL_AUTH_ERR', async () => {
    await expectKpError(
      kp.setKeyForDeletion({ ...base, id: otherId }),
      409,
      'NOT_DUAL_AUTH_ERR',
    );
  });

  if (process.env.VEIL_IAM_URL && process.env.VEIL_APIKEY) {
    await step("IamAuthenticator: an API key exchanged at Veil's IAM", async () => {
      const iam = client(
        new IamAuthenticator({ apikey: process.env.VEIL_APIKEY, url: process.env.VEIL_IAM_URL }),
      );
      const r = await iam.getKeys({ ...base, state: [5] });
      assert.equal(r.status, 200);
      assert.deepEqual(
        r.result.resources.map((k) => k.id).sort(),
        [rootId, standardId].sort(),
      );
    });
  }

  console.log(`kms_client_test: all ${stepCount} steps passed`);
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : err);
  process.exit(1);
});
