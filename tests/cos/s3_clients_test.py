#!/usr/bin/python3
"""Object storage against S3 clients nobody here wrote (ctest cos.s3_clients): aws-cli, boto3,
s3cmd, rclone and curl --aws-sigv4 (Debian's packages, installed by make deps), against a veild of
the build under test. Also the S3 error codes, IBM's SSE-KP headers, two accounts' and two roles'
rules, the root key's lifecycle seen through S3, and what the audit trail and the data directory
hold.

Usage: s3_clients_test.py BUILD_DIR [unittest args]"""
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

import boto3
import botocore.config
import botocore.exceptions

import harness

V = None  # the veild
CTX = {}  # what setUpModule made


def setUpModule():
    global V
    V = harness.Veild(BUILD)
    V.start()
    token = V.token()
    CTX["token"] = token
    cos = V.instance(token, "cloud-object-storage", "objects")
    kms = V.instance(token, "kms", "keys")
    CTX["cos"] = cos["guid"]
    CTX["kms"] = kms["guid"]
    CTX["account"] = cos["account_id"]
    key = V.root_key(token, kms["guid"])
    CTX["key_id"] = key["id"]
    CTX["key_crn"] = key["crn"]
    V.authorize_cos(token, cos["account_id"])
    CTX["manager"] = V.hmac(token, cos["guid"], "Manager")
    CTX["reader"] = V.hmac(token, cos["guid"], "Reader")
    CTX["work"] = tempfile.mkdtemp(prefix="veil-s3-work-")


def tearDownModule():
    if V is not None:
        V.cleanup()


def client(creds=None, **config):
    ak, sk = creds or CTX["manager"]
    return boto3.client(
        "s3", endpoint_url=V.s3, aws_access_key_id=ak, aws_secret_access_key=sk,
        region_name="us-east-1",
        config=botocore.config.Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1},
                                      signature_version="s3v4", **config))


def code_of(call):
    try:
        call()
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    raise AssertionError("the call succeeded")


def aws_env(creds=None):
    ak, sk = creds or CTX["manager"]
    home = os.path.join(CTX["work"], "aws-home")
    os.makedirs(os.path.join(home, ".aws"), exist_ok=True)
    with open(os.path.join(home, ".aws", "config"), "w") as f:
        f.write("[default]\nregion = us-east-1\ns3 =\n  multipart_threshold = 64MB\n")
    env = {"PATH": "/usr/bin:/bin", "HOME": home, "AWS_ACCESS_KEY_ID": ak,
           "AWS_SECRET_ACCESS_KEY": sk, "AWS_EC2_METADATA_DISABLED": "true"}
    return env


def aws(*args, creds=None, check=True):
    r = subprocess.run(["/usr/bin/aws", "--endpoint-url", V.s3, *args], env=aws_env(creds),
                       capture_output=True, text=True, timeout=300)
    if check and r.returncode != 0:
        raise AssertionError(f"aws {' '.join(args)}: {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r


def write(name, data):
    path = os.path.join(CTX["work"], name)
    with open(path, "wb") as f:
        f.write(data)
    return path


def read(path):
    with open(path, "rb") as f:
        return f.read()


def pattern(n, seed=1):
    return hashlib.shake_256(str(seed).encode()).digest(n)


class AwsCliTest(unittest.TestCase):
    def test_bucket_and_object_round_trip(self):
        aws("s3", "mb", "s3://aws-cli-bucket")
        src = write("aws-3m", pattern(3 << 20, 3))
        aws("s3", "cp", src, "s3://aws-cli-bucket/dir/three-mib")
        out = aws("s3", "ls", "s3://aws-cli-bucket/dir/").stdout
        self.assertIn("three-mib", out)
        dst = os.path.join(CTX["work"], "aws-3m.back")
        aws("s3", "cp", "s3://aws-cli-bucket/dir/three-mib", dst)
        self.assertEqual(read(dst), read(src))
        # A ranged get-object.
        part = os.path.join(CTX["work"], "aws-range")
        meta = json.loads(aws("s3api", "get-object", "--bucket", "aws-cli-bucket", "--key",
                              "dir/three-mib", "--range", "bytes=100000-100099", part).stdout)
        self.assertEqual(read(part), read(src)[100000:100100])
        self.assertEqual(meta["ContentRange"], f"bytes 100000-100099/{3 << 20}")
        aws("s3", "rb", "--force", "s3://aws-cli-bucket")
        self.assertNotIn("aws-cli-bucket", aws("s3", "ls").stdout)

    def test_sse_kms_upload_is_echoed(self):
        aws("s3", "mb", "s3://aws-sse-bucket")
        src = write("aws-sse", b"encrypted under my root key\n")
        aws("s3", "cp", src, "s3://aws-sse-bucket/o", "--sse", "aws:kms", "--sse-kms-key-id",
            CTX["key_crn"])
        head = json.loads(aws("s3api", "head-object", "--bucket", "aws-sse-bucket", "--key",
                              "o").stdout)
        self.assertEqual(head["ServerSideEncryption"], "aws:kms")
        self.assertEqual(head["SSEKMSKeyId"], CTX["key_crn"])
        aws("s3", "rb", "--force", "s3://aws-sse-bucket")

    def test_bucket_encryption_configuration(self):
        aws("s3", "mb", "s3://aws-enc-bucket")
        config = json.dumps({"Rules": [{"ApplyServerSideEncryptionByDefault": {
            "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": CTX["key_crn"]}}]})
        aws("s3api", "put-bucket-encryption", "--bucket", "aws-enc-bucket",
            "--server-side-encryption-configuration", config)
        got = json.loads(aws("s3api", "get-bucket-encryption", "--bucket",
                             "aws-enc-bucket").stdout)
        rule = got["ServerSideEncryptionConfiguration"]["Rules"][0]
        self.assertEqual(rule["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"],
                         CTX["key_crn"])
        src = write("aws-enc", b"default key applies")
        aws("s3", "cp", src, "s3://aws-enc-bucket/o")
        head = json.loads(aws("s3api", "head-object", "--bucket", "aws-enc-bucket", "--key",
                              "o").stdout)
        self.assertEqual(head["SSEKMSKeyId"], CTX["key_crn"])
        aws("s3api", "delete-bucket-encryption", "--bucket", "aws-enc-bucket")
        aws("s3", "rb", "--force", "s3://aws-enc-bucket")

    def test_sync_both_ways(self):
        aws("s3", "mb", "s3://aws-sync-bucket")
        tree = os.path.join(CTX["work"], "sync-up")
        for name in ("a.txt", "sub/b.txt", "sub/deeper/c.bin"):
            os.makedirs(os.path.dirname(os.path.join(tree, name)), exist_ok=True)
            with open(os.path.join(tree, name), "wb") as f:
                f.write(pattern(5000 + len(name), name))
        aws("s3", "sync", tree, "s3://aws-sync-bucket/tree")
        down = os.path.join(CTX["work"], "sync-down")
        aws("s3", "sync", "s3://aws-sync-bucket/tree", down)
        for name in ("a.txt", "sub/b.txt", "sub/deeper/c.bin"):
            self.assertEqual(read(os.path.join(down, name)), read(os.path.join(tree, name)))
        # Nothing changed: a second sync copies nothing.
        self.assertEqual(aws("s3", "sync", tree, "s3://aws-sync-bucket/tree").stdout.strip(), "")
        aws("s3", "rb", "--force", "s3://aws-sync-bucket")

    def test_presigned_url_works_with_curl_and_expires(self):
        aws("s3", "mb", "s3://aws-presign-bucket")
        src = write("presign", b"shared by a link")
        aws("s3", "cp", src, "s3://aws-presign-bucket/shared")
        url = aws("s3", "presign", "s3://aws-presign-bucket/shared").stdout.strip()
        got = subprocess.run(["/usr/bin/curl", "-s", "--fail-with-body", url],
                             capture_output=True, timeout=60)
        self.assertEqual(got.returncode, 0, got.stdout)
        self.assertEqual(got.stdout, b"shared by a link")
        tampered = url.replace("shared?", "other?")
        bad = subprocess.run(["/usr/bin/curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                              tampered], capture_output=True, text=True, timeout=60)
        self.assertEqual(bad.stdout, "403")
        aws("s3", "rb", "--force", "s3://aws-presign-bucket")


class MultipartTest(unittest.TestCase):
    """Large objects through each client's own multipart upload."""

    def test_aws_cli_one_gib_multipart_with_sse_kms(self):
        aws("s3", "mb", "s3://aws-big-bucket")
        src = os.path.join(CTX["work"], "one-gib")
        with open(src, "wb") as f:
            block = pattern(1 << 20, "gib")
            for i in range(1024):
                f.write(block[i:] + block[:i])
        # multipart_threshold 64 MB in the profile: 1 GiB goes in parts of 8 MiB, in parallel.
        aws("s3", "cp", src, "s3://aws-big-bucket/gib", "--sse", "aws:kms", "--sse-kms-key-id",
            CTX["key_crn"])
        head = json.loads(aws("s3api", "head-object", "--bucket", "aws-big-bucket", "--key",
                              "gib").stdout)
        self.assertEqual(head["ContentLength"], 1 << 30)
        self.assertTrue(head["ETag"].endswith('-128"'), head["ETag"])
        self.assertEqual(head["SSEKMSKeyId"], CTX["key_crn"])
        dst = src + ".back"
        aws("s3", "cp", "s3://aws-big-bucket/gib", dst)
        with open(src, "rb") as a, open(dst, "rb") as b:
            while True:
                x, y = a.read(1 << 24), b.read(1 << 24)
                self.assertEqual(x, y)
                if not x:
                    break
        os.remove(dst)
        os.remove(src)
        aws("s3", "rb", "--force", "s3://aws-big-bucket")

    def test_boto3_transfer_manager_multipart(self):
        from boto3.s3.transfer import TransferConfig
        s3 = client()
        s3.create_bucket(Bucket="boto-multipart")
        src = write("boto-12m", pattern(12 << 20, "boto-mp"))
        config = TransferConfig(multipart_threshold=5 << 20, multipart_chunksize=5 << 20,
                                max_concurrency=4)
        s3.upload_file(src, "boto-multipart", "big", Config=config,
                       ExtraArgs={"ServerSideEncryption": "aws:kms",
                                  "SSEKMSKeyId": CTX["key_crn"]})
        head = s3.head_object(Bucket="boto-multipart", Key="big")
        self.assertTrue(head["ETag"].endswith('-3"'), head["ETag"])
        self.assertEqual(head["SSEKMSKeyId"], CTX["key_crn"])
        dst = src + ".back"
        s3.download_file("boto-multipart", "big", dst, Config=config)
        self.assertEqual(read(dst), read(src))
        # UploadPartCopy with a range, and the listing calls of an upload in progress.
        up = s3.create_multipart_upload(Bucket="boto-multipart", Key="copied")
        uploads = s3.list_multipart_uploads(Bucket="boto-multipart")["Uploads"]
        self.assertEqual([u["UploadId"] for u in uploads], [up["UploadId"]])
        part = s3.upload_part_copy(Bucket="boto-multipart", Key="copied", UploadId=up["UploadId"],
                                   PartNumber=1, CopySource={"Bucket": "boto-multipart",
                                                             "Key": "big"},
                                   CopySourceRange="bytes=0-1048575")
        parts = s3.list_parts(Bucket="boto-multipart", Key="copied", UploadId=up["UploadId"])
        self.assertEqual(parts["Parts"][0]["Size"], 1 << 20)
        s3.complete_multipart_upload(
            Bucket="boto-multipart", Key="copied", UploadId=up["UploadId"],
            MultipartUpload={"Parts": [{"PartNumber": 1,
                                        "ETag": part["CopyPartResult"]["ETag"]}]})
        got = s3.get_object(Bucket="boto-multipart", Key="copied")["Body"].read()
        self.assertEqual(got, read(src)[:1 << 20])
        aborted = s3.create_multipart_upload(Bucket="boto-multipart", Key="gone")
        s3.abort_multipart_upload(Bucket="boto-multipart", Key="gone",
                                  UploadId=aborted["UploadId"])
        self.assertEqual(code_of(lambda: s3.list_parts(Bucket="boto-multipart", Key="gone",
                                                       UploadId=aborted["UploadId"])),
                         ("NoSuchUpload", 404))
        s3.delete_objects(Bucket="boto-multipart",
                          Delete={"Objects": [{"Key": "big"}, {"Key": "copied"}]})
        s3.delete_bucket(Bucket="boto-multipart")


class Boto3Test(unittest.TestCase):
    def setUp(self):
        self.s3 = client()

    def test_sse_kp_bucket_with_ibm_headers(self):
        def add_sse_kp(request, **_):
            request.headers["ibm-sse-kp-encryption-algorithm"] = "AES256"
            request.headers["ibm-sse-kp-customer-root-key-crn"] = CTX["key_crn"]
        self.s3.meta.events.register("before-sign.s3.CreateBucket", add_sse_kp)
        self.s3.create_bucket(Bucket="boto-ssekp",
                              CreateBucketConfiguration={"LocationConstraint": "local-standard"})
        head = self.s3.head_bucket(Bucket="boto-ssekp")
        headers = head["ResponseMetadata"]["HTTPHeaders"]
        self.assertEqual(headers["ibm-sse-kp-enabled"], "True")
        self.assertEqual(headers["ibm-sse-kp-crk-id"], CTX["key_crn"])
        self.assertTrue(headers["x-amz-request-id"])
        put = self.s3.put_object(Bucket="boto-ssekp", Key="k", Body=b"hello sse-kp")
        self.assertEqual(put["SSEKMSKeyId"], CTX["key_crn"])
        got = self.s3.get_object(Bucket="boto-ssekp", Key="k")
        self.assertEqual(got["Body"].read(), b"hello sse-kp")
        self.assertEqual(got["ServerSideEncryption"], "aws:kms")
        loc = self.s3.get_bucket_location(Bucket="boto-ssekp")
        self.assertEqual(loc["LocationConstraint"], "local-standard")
        self.s3.delete_object(Bucket="boto-ssekp", Key="k")
        self.s3.delete_bucket(Bucket="boto-ssekp")

    def test_objects_metadata_conditions_and_ranges(self):
        s3 = self.s3
        s3.create_bucket(Bucket="boto-objects")
        body = pattern(200000, "objects")
        put = s3.put_object(Bucket="boto-objects", Key="a/b c+d.bin", Body=body,
                            ContentType="application/x-test", CacheControl="no-cache",
                            ContentDisposition="attachment", Metadata={"colour": "blue"})
        etag = put["ETag"]
        self.assertEqual(etag, '"' + hashlib.md5(body).hexdigest() + '"')
        head = s3.head_object(Bucket="boto-objects", Key="a/b c+d.bin")
        self.assertEqual(head["ContentLength"], len(body))
        self.assertEqual(head["ContentType"], "application/x-test")
        self.assertEqual(head["CacheControl"], "no-cache")
        self.assertEqual(head["Metadata"], {"colour": "blue"})
        self.assertEqual(head["ServerSideEncryption"], "AES256")
        rng = s3.get_object(Bucket="boto-objects", Key="a/b c+d.bin", Range="bytes=-10")
        self.assertEqual(rng["Body"].read(), body[-10:])
        rng = s3.get_object(Bucket="boto-objects", Key="a/b c+d.bin", Range="bytes=199990-")
        self.assertEqual(rng["Body"].read(), body[199990:])
        self.assertEqual(code_of(lambda: s3.get_object(Bucket="boto-objects", Key="a/b c+d.bin",
                                                       Range="bytes=300000-")),
                         ("InvalidRange", 416))
        self.assertEqual(code_of(lambda: s3.get_object(Bucket="boto-objects", Key="a/b c+d.bin",
                                                       IfNoneMatch=etag)),
                         ("304", 304))
        self.assertEqual(code_of(lambda: s3.get_object(Bucket="boto-objects", Key="a/b c+d.bin",
                                                       IfMatch='"nope"')),
                         ("PreconditionFailed", 412))
        got = s3.get_object(Bucket="boto-objects", Key="a/b c+d.bin", IfMatch=etag,
                            ResponseContentType="text/plain")
        self.assertEqual(got["ContentType"], "text/plain")
        self.assertEqual(got["Body"].read(), body)
        s3.delete_object(Bucket="boto-objects", Key="a/b c+d.bin")
        s3.delete_bucket(Bucket="boto-objects")

    def test_listing_v1_v2_with_delimiter_and_pages(self):
        s3 = self.s3
        s3.create_bucket(Bucket="boto-list")
        keys = ["a.txt", "dir/one", "dir/two", "dir/sub/three", "e.txt", "z/z", "spaced key"]
        for k in keys:
            s3.put_object(Bucket="boto-list", Key=k, Body=k.encode())
        top = s3.list_objects_v2(Bucket="boto-list", Delimiter="/")
        self.assertEqual([o["Key"] for o in top["Contents"]], ["a.txt", "e.txt", "spaced key"])
        self.assertEqual([p["Prefix"] for p in top["CommonPrefixes"]], ["dir/", "z/"])
        seen = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket="boto-list",
                                                                  PaginationConfig={"PageSize": 2}):
            seen += [o["Key"] for o in page.get("Contents", [])]
        self.assertEqual(seen, sorted(keys))
        seen = []
        for page in s3.get_paginator("list_objects").paginate(Bucket="boto-list",
                                                               PaginationConfig={"PageSize": 3}):
            seen += [o["Key"] for o in page.get("Contents", [])]
        self.assertEqual(seen, sorted(keys))
        after = s3.list_objects_v2(Bucket="boto-list", StartAfter="dir/two", Prefix="")
        self.assertEqual([o["Key"] for o in after["Contents"]], ["e.txt", "spaced key", "z/z"])
        enc = s3.list_objects_v2(Bucket="boto-list", Prefix="spaced", EncodingType="url")
        # Asked for by the caller, the encoding is the caller's to undo (botocore leaves it).
        self.assertEqual([o["Key"] for o in enc["Contents"]], ["spaced%20key"])
        self.assertEqual(code_of(lambda: s3.delete_bucket(Bucket="boto-list")),
                         ("BucketNotEmpty", 409))
        deleted = s3.delete_objects(Bucket="boto-list",
                                    Delete={"Objects": [{"Key": k} for k in keys]})
        self.assertEqual(sorted(d["Key"] for d in deleted["Deleted"]), sorted(keys))
        quiet = s3.delete_objects(Bucket="boto-list",
                                  Delete={"Objects": [{"Key": "gone"}], "Quiet": True})
        self.assertNotIn("Deleted", quiet)
        s3.delete_bucket(Bucket="boto-list")

    def test_error_codes(self):
        s3 = self.s3
        s3.create_bucket(Bucket="boto-errors")
        self.assertEqual(code_of(lambda: s3.get_object(Bucket="boto-errors", Key="none")),
                         ("NoSuchKey", 404))
        self.assertEqual(code_of(lambda: s3.get_object(Bucket="no-such-bucket-here", Key="x")),
                         ("NoSuchBucket", 404))
        self.assertEqual(code_of(lambda: s3.create_bucket(Bucket="boto-errors")),
                         ("BucketAlreadyOwnedByYou", 409))
        self.assertEqual(code_of(lambda: s3.create_bucket(Bucket="Bad_Name")),
                         ("InvalidBucketName", 400))
        wrong_secret = client((CTX["manager"][0], "0" * 48))
        self.assertEqual(code_of(lambda: wrong_secret.list_buckets()),
                         ("SignatureDoesNotMatch", 403))
        unknown = client(("f" * 32, "0" * 48))
        self.assertEqual(code_of(lambda: unknown.list_buckets()), ("InvalidAccessKeyId", 403))
        bad_md5 = lambda: s3.put_object(Bucket="boto-errors", Key="m", Body=b"abc",
                                        ContentMD5="AAAAAAAAAAAAAAAAAAAAAA==")
        self.assertEqual(code_of(bad_md5), ("BadDigest", 400))
        self.assertEqual(code_of(lambda: s3.put_object(Bucket="boto-errors", Key="m", Body=b"abc",
                                                       ContentMD5="nope")),
                         ("InvalidDigest", 400))
        # A root key of another account: the KMS refuses to let object storage use it.
        foreign = lambda: s3.put_object(
            Bucket="boto-errors", Key="m", Body=b"abc", ServerSideEncryption="aws:kms",
            SSEKMSKeyId="crn:v1:veil:private:kms:local:a/other:inst:key:k")
        self.assertEqual(code_of(foreign), ("KMS.AccessDeniedException", 403))
        s3.delete_bucket(Bucket="boto-errors")

    def test_presigned_get_and_put(self):
        s3 = self.s3
        s3.create_bucket(Bucket="boto-presign")
        put_url = s3.generate_presigned_url("put_object",
                                            Params={"Bucket": "boto-presign", "Key": "up"},
                                            ExpiresIn=300)
        status, _, _ = harness.call("PUT", put_url, b"uploaded by link")
        self.assertEqual(status, 200)
        get_url = s3.generate_presigned_url("get_object",
                                            Params={"Bucket": "boto-presign", "Key": "up"})
        status, _, data = harness.call("GET", get_url)
        self.assertEqual((status, data), (200, b"uploaded by link"))
        s3.delete_object(Bucket="boto-presign", Key="up")
        s3.delete_bucket(Bucket="boto-presign")

    def test_roles_and_accounts(self):
        self.s3.create_bucket(Bucket="boto-roles")
        self.s3.put_object(Bucket="boto-roles", Key="k", Body=b"v")
        reader = client(CTX["reader"])
        self.assertEqual(reader.get_object(Bucket="boto-roles", Key="k")["Body"].read(), b"v")
        self.assertEqual(code_of(lambda: reader.put_object(Bucket="boto-roles", Key="k2",
                                                           Body=b"x")), ("AccessDenied", 403))
        self.assertEqual(code_of(lambda: reader.create_bucket(Bucket="boto-roles-2")),
                         ("AccessDenied", 403))
        self.assertEqual(code_of(lambda: reader.delete_object(Bucket="boto-roles", Key="k")),
                         ("AccessDenied", 403))
        self.s3.delete_object(Bucket="boto-roles", Key="k")
        self.s3.delete_bucket(Bucket="boto-roles")


class TwoAccountsTest(unittest.TestCase):
    """Tenant B's credentials against tenant A's buckets, objects and root key."""

    def test_another_accounts_key_gets_nothing(self):
        a = client()
        a.create_bucket(Bucket="tenant-a-bucket")
        a.put_object(Bucket="tenant-a-bucket", Key="secret", Body=b"tenant A's bytes")
        tenant = harness.call_json("POST", V.url(1, "/v1/accounts"),
                                   json.dumps({"name": "tenant-b"}), CTX["token"])
        token_b = V.token(tenant["iam_apikey"])
        cos_b = V.instance(token_b, "cloud-object-storage", "objects-b")
        b = client(V.hmac(token_b, cos_b["guid"], "Manager"))
        self.assertEqual(code_of(lambda: b.get_object(Bucket="tenant-a-bucket", Key="secret")),
                         ("AccessDenied", 403))
        self.assertEqual(code_of(lambda: b.put_object(Bucket="tenant-a-bucket", Key="x",
                                                      Body=b"x")), ("AccessDenied", 403))
        self.assertEqual(code_of(lambda: b.delete_object(Bucket="tenant-a-bucket", Key="secret")),
                         ("AccessDenied", 403))
        self.assertEqual(code_of(lambda: b.list_objects_v2(Bucket="tenant-a-bucket")),
                         ("AccessDenied", 403))
        self.assertEqual(code_of(lambda: b.create_bucket(Bucket="tenant-a-bucket")),
                         ("BucketAlreadyExists", 409))
        self.assertNotIn("tenant-a-bucket",
                         [x["Name"] for x in b.list_buckets().get("Buckets", [])])
        # Nor can B protect its own bucket with A's root key, whatever A authorized.
        def add_sse_kp(request, **_):
            request.headers["ibm-sse-kp-encryption-algorithm"] = "AES256"
            request.headers["ibm-sse-kp-customer-root-key-crn"] = CTX["key_crn"]
        b.meta.events.register("before-sign.s3.CreateBucket", add_sse_kp)
        self.assertEqual(code_of(lambda: b.create_bucket(Bucket="tenant-b-bucket")),
                         ("KMS.AccessDeniedException", 403))
        # And B's bearer token with A's instance id lists nothing of A's.
        status, _, _ = harness.call("GET", V.s3 + "/", headers={
            "ibm-service-instance-id": CTX["cos"]}, token=token_b)
        self.assertEqual(status, 403)
        self.assertEqual(a.get_object(Bucket="tenant-a-bucket", Key="secret")["Body"].read(),
                         b"tenant A's bytes")
        a.delete_object(Bucket="tenant-a-bucket", Key="secret")
        a.delete_bucket(Bucket="tenant-a-bucket")


class OtherClientsTest(unittest.TestCase):
    def test_curl_aws_sigv4(self):
        ak, sk = CTX["manager"]
        client().create_bucket(Bucket="curl-bucket")
        src = write("curl-up", pattern(100000, "curl"))
        base = ["/usr/bin/curl", "-s", "--fail-with-body", "--aws-sigv4", "aws:amz:us-east-1:s3",
                "--user", f"{ak}:{sk}"]
        # curl 7.88 signs the body's hash only when told to send it (S3 requires the header).
        up = subprocess.run(base + ["-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD", "-T", src,
                                    V.s3 + "/curl-bucket/from-curl"],
                            capture_output=True, timeout=60)
        self.assertEqual(up.returncode, 0, up.stdout)
        down = subprocess.run(base + [V.s3 + "/curl-bucket/from-curl"], capture_output=True,
                              timeout=60)
        self.assertEqual(down.stdout, read(src))
        # Virtual-hosted style: the bucket in the Host header.
        vhost = subprocess.run(base + ["-H", f"Host: curl-bucket.localhost:{V.base + 3}",
                                       V.s3 + "/from-curl"], capture_output=True, timeout=60)
        self.assertEqual(vhost.stdout, read(src))
        client().delete_object(Bucket="curl-bucket", Key="from-curl")
        client().delete_bucket(Bucket="curl-bucket")

    def test_s3cmd(self):
        ak, sk = CTX["manager"]
        cfg = write("s3cfg", (
            f"[default]\naccess_key = {ak}\nsecret_key = {sk}\nhost_base = 127.0.0.1:{V.base + 3}\n"
            f"host_bucket = 127.0.0.1:{V.base + 3}\nuse_https = False\nsignature_v2 = False\n"
            "bucket_location = us-east-1\n").encode())
        def s3cmd(*args):
            r = subprocess.run(["/usr/bin/s3cmd", "-c", cfg, *args], capture_output=True,
                               text=True, timeout=300, env={"PATH": "/usr/bin:/bin",
                                                            "HOME": CTX["work"]})
            self.assertEqual(r.returncode, 0, f"s3cmd {args}: {r.stdout}{r.stderr}")
            return r.stdout
        s3cmd("mb", "s3://s3cmd-bucket")
        src = write("s3cmd-up", pattern(12 << 20, "s3cmd"))
        # A multipart put: parts of 5 MiB.
        s3cmd("put", "--multipart-chunk-size-mb=5", src, "s3://s3cmd-bucket/obj")
        self.assertIn("s3://s3cmd-bucket/obj", s3cmd("ls", "s3://s3cmd-bucket"))
        dst = os.path.join(CTX["work"], "s3cmd-down")
        s3cmd("get", "--force", "s3://s3cmd-bucket/obj", dst)
        self.assertEqual(read(dst), read(src))
        tree = os.path.join(CTX["work"], "s3cmd-tree")
        os.makedirs(tree, exist_ok=True)
        for i in range(3):
            with open(os.path.join(tree, f"f{i}"), "wb") as f:
                f.write(pattern(1000 + i, i))
        s3cmd("sync", tree + "/", "s3://s3cmd-bucket/tree/")
        self.assertIn("tree/f2", s3cmd("ls", "-r", "s3://s3cmd-bucket"))
        s3cmd("del", "--recursive", "--force", "s3://s3cmd-bucket")
        s3cmd("rb", "s3://s3cmd-bucket")

    def test_rclone(self):
        ak, sk = CTX["manager"]
        env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}
        env.update({"RCLONE_CONFIG_VEIL_TYPE": "s3", "RCLONE_CONFIG_VEIL_PROVIDER": "Other",
                    "RCLONE_CONFIG_VEIL_ACCESS_KEY_ID": ak,
                    "RCLONE_CONFIG_VEIL_SECRET_ACCESS_KEY": sk,
                    "RCLONE_CONFIG_VEIL_ENDPOINT": V.s3, "RCLONE_CONFIG_VEIL_REGION": "us-east-1",
                    "RCLONE_CONFIG_VEIL_FORCE_PATH_STYLE": "true", "HOME": CTX["work"]})
        def rclone(*args):
            r = subprocess.run(["/usr/bin/rclone", *args], capture_output=True, text=True,
                               timeout=300, env=env)
            self.assertEqual(r.returncode, 0, f"rclone {args}: {r.stdout}{r.stderr}")
            return r.stdout
        tree = os.path.join(CTX["work"], "rclone-tree")
        os.makedirs(os.path.join(tree, "sub"), exist_ok=True)
        for name, size in (("one", 70000), ("sub/two", 70000), ("sub/big", 11 << 20)):
            with open(os.path.join(tree, name), "wb") as f:
                f.write(pattern(size, name))
        rclone("mkdir", "veil:rclone-bucket")
        # Files over 5 MiB go in multipart uploads of 5 MiB parts.
        rclone("copy", "--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M", tree,
               "veil:rclone-bucket/t")
        rclone("check", tree, "veil:rclone-bucket/t")
        cat = subprocess.run(["/usr/bin/rclone", "cat", "veil:rclone-bucket/t/sub/two"],
                             capture_output=True, timeout=120, env=env)
        self.assertEqual(cat.stdout, read(os.path.join(tree, "sub/two")))
        rclone("purge", "veil:rclone-bucket")
        self.assertNotIn("rclone-bucket", rclone("lsd", "veil:"))


def object_files():
    root = os.path.join(V.data, "cos", "objects")
    return sorted(os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs)


class CrashTest(unittest.TestCase):
    """kill -9 of veild mid-upload and between the parts of a multipart upload."""

    def test_kill_during_a_put_leaves_nothing_and_acknowledged_writes_survive(self):
        s3 = client()
        s3.create_bucket(Bucket="crash-bucket")
        s3.put_object(Bucket="crash-bucket", Key="acknowledged", Body=b"before the crash")
        before = object_files()
        # A signed PUT of 64 MiB whose body stops half way: veild holds a temporary file.
        url = s3.generate_presigned_url("put_object", Params={"Bucket": "crash-bucket",
                                                              "Key": "torn"})
        host, _, rest = url.partition("//")[2].partition("/")
        sock = socket.create_connection(("127.0.0.1", V.base + 3))
        sock.sendall((f"PUT /{rest} HTTP/1.1\r\nHost: {host}\r\n"
                      f"Content-Length: {64 << 20}\r\n\r\n").encode())
        sock.sendall(pattern(32 << 20, "torn"))
        deadline = time.time() + 20
        while not any(f.endswith(".tmp") for f in object_files()) and time.time() < deadline:
            time.sleep(0.05)
        self.assertTrue(any(f.endswith(".tmp") for f in object_files()), "no upload in flight")
        V.stop(signal.SIGKILL)
        sock.close()
        V.start()
        self.assertEqual(object_files(), before)  # the torn upload's file is gone
        s3 = client()
        self.assertEqual(s3.get_object(Bucket="crash-bucket", Key="acknowledged")["Body"].read(),
                         b"before the crash")
        self.assertEqual(code_of(lambda: s3.head_object(Bucket="crash-bucket", Key="torn")),
                         ("404", 404))
        s3.delete_object(Bucket="crash-bucket", Key="acknowledged")
        s3.delete_bucket(Bucket="crash-bucket")

    def test_kill_between_parts_keeps_the_acknowledged_parts(self):
        s3 = client()
        s3.create_bucket(Bucket="crash-multipart")
        up = s3.create_multipart_upload(Bucket="crash-multipart", Key="k")
        one, two = pattern(5 << 20, "one"), pattern(1000, "two")
        e1 = s3.upload_part(Bucket="crash-multipart", Key="k", UploadId=up["UploadId"],
                            PartNumber=1, Body=one)["ETag"]
        V.stop(signal.SIGKILL)
        V.start()
        s3 = client()
        e2 = s3.upload_part(Bucket="crash-multipart", Key="k", UploadId=up["UploadId"],
                            PartNumber=2, Body=two)["ETag"]
        s3.complete_multipart_upload(
            Bucket="crash-multipart", Key="k", UploadId=up["UploadId"],
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1},
                                       {"PartNumber": 2, "ETag": e2}]})
        V.stop(signal.SIGKILL)
        V.start()
        got = client().get_object(Bucket="crash-multipart", Key="k")["Body"].read()
        self.assertEqual(got, one + two)
        client().delete_object(Bucket="crash-multipart", Key="k")
        client().delete_bucket(Bucket="crash-multipart")


class TrailTest(unittest.TestCase):
    def test_audit_events_name_the_actions_and_hold_no_signature(self):
        s3 = client()
        s3.create_bucket(Bucket="audited")
        s3.put_object(Bucket="audited", Key="k", Body=b"v")
        url = s3.generate_presigned_url("get_object", Params={"Bucket": "audited", "Key": "k"})
        harness.call("GET", url)
        s3.delete_object(Bucket="audited", Key="k")
        s3.delete_bucket(Bucket="audited")
        with open(os.path.join(V.data, "audit", "events.jsonl")) as f:
            events = [json.loads(line) for line in f if "cloud-object-storage" in line]
        actions = {e["action"] for e in events}
        for a in ("cloud-object-storage.bucket.create", "cloud-object-storage.object.create",
                  "cloud-object-storage.object.read", "cloud-object-storage.object.delete",
                  "cloud-object-storage.bucket.delete"):
            self.assertIn(a, actions)
        signature = url.split("X-Amz-Signature=")[1].split("&")[0]
        with open(os.path.join(V.data, "audit", "events.jsonl")) as f:
            text = f.read()
        self.assertNotIn(signature, text)
        self.assertNotIn("X-Amz-Signature", text)
        self.assertNotIn(CTX["manager"][1], text)


if __name__ == "__main__":
    BUILD = sys.argv[1]
    unittest.main(argv=[sys.argv[0]] + sys.argv[2:], verbosity=2)
