#!/usr/bin/python3
"""Writes the seed corpora of the request-parser fuzz targets (docs/fuzzing.md):

  fuzz/corpus/http/  http_request_fuzz   request-targets, components, JSON bodies
  fuzz/corpus/iam/   iam_request_fuzz    token forms, page queries, IAM JSON bodies
  fuzz/corpus/jwt/   jwt_fuzz            tokens, claims payloads, headers
  fuzz/corpus/kms/   kms_request_fuzz    Key Protect bodies, queries, WDEKs, CIDR blocks, times
  fuzz/corpus/cos/   cos_sigv4_fuzz      SigV4 headers, presigned queries, targets, dates, aws-chunked bodies, XML bodies

Each seed is one selector byte (which parser, as the target's LLVMFuzzerTestOneInput reads it)
followed by that parser's input. Valid requests come from the API's documented shapes; hostile
ones are the bugs the targets found (each also a named unit test, docs/security.md). The output is
deterministic: rerunning rewrites the same files. Usage: fuzz/api_corpus_gen.py [OUT_ROOT]
"""
import base64
import json
import os
import shutil
import sys

ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64(data):
    return base64.b64encode(data).decode()


def write(corpus, cases):
    out = os.path.join(ROOT, corpus)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    for name, selector, text in cases:
        data = text.encode() if isinstance(text, str) else text
        with open(os.path.join(out, name), "wb") as f:
            f.write(bytes([selector]) + data)
    print(f"{out}: {len(cases)} seeds")


def http_cases():
    targets = ["/api/v2/keys?limit=10&offset=0&state=0,1", "/a%20b/c?x=1&y&z=%2B+w",
               "/identity/token", "/?%00=x", "/p?a=%zz", "http://example.com/x", "*", "/?&&=&a==b",
               "/api/v2/keys/registrations?urlEncodedResourceCRNQuery=crn%3Av1%3A*"]
    components = ["abc", "a%20b", "%41%42", "%4", "%00", "%ff%fe", "+plus+", "%%"]
    bodies = ['{"a":[1,2.5,"x",null,true,false]}', "1e400", "-1e400", '{"x":[1E999]}', "1e-400",
              "18446744073709551615", "-9223372036854775808", "123456789012345678901234567890",
              '"\\ud800"', '"\\u0000"', '{"a":[0.5,118446744073709551615.0]}', "[" * 64 + "]" * 64, "[" * 65 + "]" * 65, "{", "", " "]
    cases = [(f"target-{i}", 0, t) for i, t in enumerate(targets)]
    cases += [(f"component-{i}", 1, t) for i, t in enumerate(components)]
    cases += [(f"json-{i}", 2, t) for i, t in enumerate(bodies)]
    return cases


def iam_cases():
    forms = ["grant_type=urn%3Aibm%3Aparams%3Aoauth%3Agrant-type%3Aapikey&apikey=abc%20def",
             "grant_type=urn:ibm:params:oauth:grant-type:apikey&apikey=+key+%0A", "a&&b=&=c",
             "x=%00", "x=%zz", "&".join(f"f{i}=v" for i in range(33))]
    pages = ["pagesize=20&pagetoken=abc", "pagesize=0", "pagesize=101", "pagesize=+5",
             "pagesize=9223372036854775808"]
    token_bodies = [b64url(b'{"iam_id":"iam-ServiceId-1","exp":1}'), b64url(b"{}"), "e30=",
                    b64url(b'{"iam_id":"x","n":1e400}')]
    service_ids = ['{"name":"svc","description":"d","account_id":"a1"}', '{"name":""}',
                   '{"name":1}', "[]"]
    updates = ['{"name":"n"}', '{"description":null}', "{}"]
    api_keys = ['{"name":"k","iam_id":"iam-x","store_value":false}', '{"name":"k","store_value":true}',
                '{"name":"k","iam_id":"","store_value":false}',
                '{"name":"k","store_value":"no"}']
    instances = ['{"name":"kp","resource_id":"kms","target":"us-south","resource_plan_id":"x"}',
                 '{"name":"kp"}']
    accounts = ['{"name":"acct","owner_name":"o","owner_email":"o@example.com"}',
                '{"name":"a","owner_iam_id":"iam-x"}']
    authz = [json.dumps([{"subject": {"attributes": {"id": "iam-x"}}, "action": "kms.secrets.wrap",
                          "resource": {"attributes": {"accountId": "a", "serviceName": "kms",
                                                      "serviceInstance": "i"}}},
                         {"subject": {"accessTokenBody": b64url(b'{"iam_id":"iam-y"}')},
                          "action": "a", "resource": {"attributes": {"accountId": "a"}}},
                         {"subject": {"attributes": {"serviceName": "server-protect",
                                                     "accountId": "a"}},
                          "action": "a", "resource": {"attributes": {"accountId": "a"}}},
                         {"subject": {}}, 1]), "[]", json.dumps([{}] * 101)]
    policies = [json.dumps({"type": "access",
                            "subjects": [{"attributes": [{"name": "iam_id", "value": "iam-x"}]}],
                            "roles": [{"role_id": "crn:v1:bluemix:public:iam::::serviceRole:Manager"}],
                            "resources": [{"attributes": [{"name": "accountId", "value": "a1"},
                                                          {"name": "serviceName", "value": "kms"}]}],
                            "description": "d"}),
                json.dumps({"type": "authorization",
                            "subjects": [{"attributes": [{"name": "accountId", "value": "a1"},
                                                         {"name": "serviceName", "value": "server-protect"}]}],
                            "roles": [{"role_id": "crn:v1:bluemix:public:iam::::serviceRole:Reader"}],
                            "resources": [{"attributes": [{"name": "accountId", "value": "a1"},
                                                          {"name": "serviceName", "value": "kms"}]}]}),
                '{"type":"access","subjects":[],"roles":[],"resources":[]}']
    resource_keys = ['{"name":"creds","source":"8d7c6b5a-0000-4000-8000-000000000000",'
                     '"role":"crn:v1:bluemix:public:iam::::serviceRole:Writer",'
                     '"parameters":{"HMAC":true}}',
                     '{"name":"k","source":"crn:v1:veil:private:cloud-object-storage:local:a/a1:g::",'
                     '"role":"Reader","parameters":null}',
                     '{"name":"k","source":"s","role":"Viewer"}',
                     '{"name":"k","source":"s","role":"crn:v1:bluemix:public:iam::::role:Manager",'
                     '"parameters":{"HMAC":"true"}}',
                     '{"name":"k","source":"s","role":"Writer","parameters":{"serviceid_crn":"x"}}',
                     '{"name":"k","source":"s","role":"Writer","parameters":[]}']
    cases = [(f"form-{i}", 0, t) for i, t in enumerate(forms)]
    cases += [(f"page-{i}", 1, t) for i, t in enumerate(pages)]
    cases += [(f"access-token-body-{i}", 2, t) for i, t in enumerate(token_bodies)]
    for selector, name, bodies in [(3, "service-id", service_ids), (4, "update", updates),
                                   (5, "api-key", api_keys), (6, "instance", instances),
                                   (7, "account", accounts), (8, "authz", authz),
                                   (9, "policy", policies), (10, "resource-key", resource_keys)]:
        cases += [(f"{name}-{i}", selector, t) for i, t in enumerate(bodies)]
    return cases


def jwt_cases():
    header = b64url(b'{"alg":"RS256","typ":"JWT","kid":"k1"}')
    claims = b'{"iam_id":"iam-ServiceId-1","id":"iam-ServiceId-1","account":{"bss":"a1"},' \
             b'"iat":1700000000,"exp":1700003600,"iss":"https://iam.veil.local/identity"}'
    tokens = [header + "." + b64url(claims) + "." + b64url(b"sig"), "a.b", "a.b.c.d", "..",
              header + "." + b64url(b"[]") + ".", b64url(b'{"alg":"none","kid":"k","crit":[]}') + ".e30.",
              header + "." + b64url(claims) + ".sig=", "x" * 8193]
    payloads = [claims.decode(), '{"exp":99999999999,"iat":0}', '{"exp":7258118400,"iat":7258118401}',
                '{"exp":1e400}', '{"exp":-1,"nbf":1.5}', '{"exp":18446744073709551615}',
                '{"exp":"1700000000"}', '{"nbf":9.3e18}', '{"exp":18446747258118401615}', "[" * 17 + "]" * 17]
    headers = ['{"alg":"RS256","kid":"k1"}', '{"alg":"HS256","kid":"k1","typ":1}', '{"kid":"k"}',
               '{"alg":"RS256","kid":"k","crit":["x"]}', "{}"]
    cases = [(f"token-{i}", 0, t) for i, t in enumerate(tokens)]
    cases += [(f"claims-{i}", 1, t) for i, t in enumerate(payloads)]
    cases += [(f"header-{i}", 2, t) for i, t in enumerate(headers)]
    return cases


def wdek(sealed=b"\x01" * 48, iv=b"\x02" * 12, handle="1b4e28ba-2fa1-41d2-883f-0016d3cca427",
         spelling=None):
    text = spelling or ('{"ciphertext":"%s","iv":"%s","version":"4.0.0","handle":"%s"}'
                        % (b64(sealed), b64(iv), handle))
    return b64(text.encode())


def kms_cases():
    def coll(resources, total=None):
        meta = {"collectionType": "application/vnd.ibm.kms.key+json",
                "collectionTotal": len(resources) if total is None else total}
        return json.dumps({"metadata": meta, "resources": resources})

    creates = [coll([{"type": "application/vnd.ibm.kms.key+json", "name": "root", "extractable": False,
                      "aliases": ["boot-disk"], "expirationDate": "2030-01-01T00:00:00Z"}]),
               coll([{"name": "imported", "payload": b64(b"\x00" * 32), "encryptedNonce": "bm9uY2U=",
                      "iv": "aXY="}]),
               coll([{"name": "k", "expirationDate": "9999-12-31T23:59:59Z"}]),
               coll([{"name": "k"}], total=2), coll([{}, {}]), '{"resources":{}}', ""]
    patches = ['{"keyRingID":"ring-1"}', "{}", "[]"]
    restores = [coll([{"payload": b64(b"\x00" * 32)}]), '{"resources":[1]}', ""]
    wraps = ['{"plaintext":"AAEC","aad":["a","b"]}', "{}", "null", "",
             json.dumps({"aad": ["a"] * 256}), json.dumps({"aad": ["a" * 256]}), '{"plaintext":"AAE"}']
    unwraps = [json.dumps({"ciphertext": wdek(), "aad": ["a"]}), '{"ciphertext":""}',
               json.dumps({"ciphertext": wdek(spelling='{"iv":"%s","ciphertext":"%s","version":"4.0.0",'
                                                      '"handle":"1b4e28ba-2fa1-41d2-883f-0016d3cca427"}'
                                                      % (b64(b"\x02" * 12), b64(b"\x01" * 48)))})]
    rotates = [json.dumps({"payload": b64(b"\x00" * 32)}), "{}", ""]
    key_policies = [json.dumps({"resources": [{"rotation": {"enabled": True, "interval_month": 3}},
                                              {"dualAuthDelete": {"enabled": True}}]}),
                    json.dumps({"resources": [{"rotation": {"enabled": True, "interval_month": 4294967297}}]}),
                    json.dumps({"resources": [{"rotation": {"enabled": False}}]}),
                    json.dumps({"resources": [{"rotation": {"interval_month": 13}}]}),
                    json.dumps({"resources": [{}, {}, {}]})]

    def instance(ptype, data):
        return json.dumps({"resources": [{"policy_type": ptype, "policy_data": data}]})

    instance_policies = [
        instance("allowedIP", {"enabled": True, "attributes": {"allowed_ip": ["10.0.0.0/8", "2001:db8::/32"]}}),
        instance("allowedIP", {"enabled": True, "attributes": {"allowed_ip": ["10.0.0.0/-0"]}}),
        instance("allowedIP", {"enabled": True, "attributes": {"allowed_ip": ["10.0.0.1\u0000x"]}}),
        '{"resources":[{"policy_type":"allowedIP","policy_data":{"enabled":true,"x":1e400,'
        '"attributes":{"allowed_ip":["10.0.0.0/8"]}}}]}',
        instance("rotation", {"enabled": True, "attributes": {"interval_month": 3}}),
        instance("rotation", {"enabled": True, "attributes": {"interval_month": 4294967297}}),
        instance("keyCreateImportAccess", {"enabled": True, "attributes": {"create_root_key": False,
                                                                            "enforce_token": True}}),
        instance("dualAuthDelete", {"enabled": False}), instance("metrics", {"enabled": True}),
        instance("nope", {"enabled": True})]
    registrations = [json.dumps({"resources": [{"description": "vol", "preventKeyDeletion": True,
                                                "keyVersion": {"id": "v1"}}]}),
                     '{"keyVersionId":"v2","description":null}', '{"resources":[]}', ""]
    import_tokens = ['{"expiration":600,"maxAllowedRetrievals":3}', '{"expiration":1e3}',
                     '{"maxAllowedRetrievals":18446744073709551615}', ""]
    list_queries = ["limit=10&offset=5&state=0,1,5&extractable=true", "limit=5001", "limit=+5",
                    "offset=4611686018427387903&limit=5000", "offset=-1", "state=4", "state=,"]
    reg_queries = ["urlEncodedResourceCRNQuery=crn%3Av1%3A*&preventKeyDeletion=true&limit=0",
                   "preventKeyDeletion=yes", "offset=4611686018427387904"]
    misc_queries = ["policy=rotation&confirmOutsideAllowedIP=true&force=true", "policy=x",
                    "confirmOutsideAllowedIP=1"]
    wdeks = [wdek(), wdek(spelling='{ "ciphertext":"%s","iv":"%s","version":"4.0.0","handle":'
                                   '"1b4e28ba-2fa1-41d2-883f-0016d3cca427"}' % (b64(b"\x01" * 48), b64(b"\x02" * 12))),
             wdek(iv=b"\x02" * 16), wdek(handle="not-a-uuid"), "!!!", ""]
    blocks = ["10.0.0.0/8", "192.0.2.7", "2001:db8::/32", "::ffff:10.1.2.3/128", "[::1]",
              "10.0.0.0/-0", "10.0.0.0/+8", "10.0.0.1\x00junk", "10.0.0.0/33", "::/129", "10.0.0.0/0008"]
    times = ["2026-11-28T20:30:05Z", "2026-11-28T20:30:05.123456789+05:30", "9999-12-31T23:59:59Z",
             "0000-01-01T00:00:00Z", "2262-04-11T23:47:16.854775807Z", "1677-09-21T00:12:43.145224192Z",
             "2026-02-29T00:00:00Z", "2026-11-28 20:30:05Z"]
    cases = []
    for selector, name, items in [(0, "create-key", creates), (1, "patch-key", patches),
                                  (2, "restore", restores), (3, "wrap", wraps), (4, "unwrap", unwraps),
                                  (5, "rotate", rotates), (6, "key-policies", key_policies),
                                  (7, "instance-policies", instance_policies),
                                  (8, "registration", registrations), (9, "import-token", import_tokens),
                                  (10, "list-query", list_queries), (11, "registration-query", reg_queries),
                                  (12, "misc-query", misc_queries), (13, "wdek", wdeks),
                                  (14, "ip-block", blocks), (15, "time", times)]:
        cases += [(f"{name}-{i}", selector, t) for i, t in enumerate(items)]
    return cases


def cos_cases():
    sig = "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    headers = [
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=" + sig,
        "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=%s, Credential=K/20130524/r/s3/aws4_request" % sig,
        "AWS4-HMAC-SHA256 Credential=K/20130524/r/s3/aws4_request,SignedHeaders=host;host,Signature=" + sig,
        "AWS4-HMAC-SHA256 Credential=K//r/s3/aws4_request,SignedHeaders=,Signature=",
        "AWS4-HMAC-SHA256 ", "AWS4-HMAC-SHA256", "Bearer x",
    ]
    queries = [
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1"
        "%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
        "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404",
        "X-Amz-Expires=604801&X-Amz-Expires=1", "X-Amz-Date=20130230T000000Z", "%", "&&&=&=",
    ]
    targets = ["/test.txt", "/my-bucket/dir/a%20b%2Bc~x.txt?list-type=2&prefix=a%2Fb&delimiter=%2F",
               "/a%2fb%7E?prefix=a/b&x", "/%zz", "/%00?x=%00", "?uploads", "/b/k?partNumber=1&uploadId=u%2B"]
    dates = ["20130524T000000Z", "19700101T000000Z", "99991231T235959Z", "00000101T000000Z",
             "20130230T000000Z", "20130524T240000Z", "2013-05-24T00:00:00Z"]
    unsigned = ["\x07" + "5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n",
                "\x00" + "0\r\n\r\n", "\x01" + "10\r\n" + "a" * 16 + "\r\n0\r\n\r\n",
                "\x02" + "5;chunk-signature=x\r\nhello\r\n", "\x03" + "fffffffffffffffff\r\n"]
    signed = ["5;chunk-signature=" + "b" * 64 + "\r\nhello\r\n0;chunk-signature=" + "c" * 64 + "\r\n\r\n",
              "0;chunk-signature=" + "d" * 64 + "\r\n\r\n"]
    xml = ['<?xml version="1.0" encoding="UTF-8"?><Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
           "<Quiet>true</Quiet><Object><Key>a &amp; b</Key></Object></Delete>",
           "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>&quot;x&quot;</ETag>"
           "</Part></CompleteMultipartUpload>",
           "<CreateBucketConfiguration><LocationConstraint>local-standard</LocationConstraint>"
           "</CreateBucketConfiguration>",
           '<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>', "<a><![CDATA[<b>]]>&#x41;</a>",
           "<a>" * 20 + "</a>" * 20, "<a></b>"]
    cases = []
    for selector, name, items in [(0, "header", headers), (1, "presigned", queries),
                                  (2, "target", targets), (3, "date", dates),
                                  (4, "chunked-unsigned", unsigned), (5, "chunked-signed", signed),
                                  (6, "xml", xml)]:
        cases += [(f"{name}-{i}", selector, t) for i, t in enumerate(items)]
    return cases


write("http", http_cases())
write("iam", iam_cases())
write("jwt", jwt_cases())
write("kms", kms_cases())
write("cos", cos_cases())
