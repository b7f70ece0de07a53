#!/usr/bin/python3
"""Reproduces the open defect of concurrent large GETs (not a ctest: it fails today).

Ten concurrent GETs of 4 MiB objects through the built veild: several responses stop or carry
another response's bytes about 3.9 MB in (near the loopback socket's send buffer), while the
same GETs one at a time, and the same reads in process (ctest
cos.CosServiceTest.ConcurrentRangedReadersEachGetTheirOwnBytes), are right. Found while testing
aws-cli's parallel download; the suites run their clients with one connection until it is fixed.

Usage (from the repository root): tests/cos/concurrent_get_repro.py   (expects build/)"""
import sys, os, hashlib, subprocess, concurrent.futures
sys.path.insert(0, "tests/cos")
import harness, boto3, botocore.config
V = harness.Veild(os.environ.get("BUILD", "build")); V.extra = os.environ.get("EXTRA","").split(); V.start()
try:
    t = V.token(); cos = V.instance(t, "cloud-object-storage", "o")
    ak, sk = V.hmac(t, cos["guid"], "Manager")
    s3 = boto3.client("s3", endpoint_url=V.s3, aws_access_key_id=ak, aws_secret_access_key=sk, region_name="us-east-1",
        config=botocore.config.Config(s3={"addressing_style": "path"}, signature_version="s3v4"))
    s3.create_bucket(Bucket="bbb")
    objs = {i: hashlib.shake_256(str(i).encode()).digest(4 << 20) for i in range(16)}
    urls = {}
    for i, d in objs.items():
        s3.put_object(Bucket="bbb", Key=f"o{i}", Body=d)
        urls[i] = s3.generate_presigned_url("get_object", Params={"Bucket": "bbb", "Key": f"o{i}"})
    def get(i):
        p = subprocess.run(["curl", "-sS", urls[i]], capture_output=True)
        return p.stdout == objs[i]
    print("sequential bad:", [get(i) for i in range(16)].count(False))
    def get2(i):
        p = subprocess.run(["curl", "-sS", urls[i]], capture_output=True)
        if p.stdout != objs[i]:
            d = p.stdout
            j = next((k for k in range(min(len(d), len(objs[i]))) if d[k] != objs[i][k]), None)
            print(i, "rc", p.returncode, p.stderr[-100:], "len", len(d), "differs at", j, flush=True)
        return p.stdout == objs[i]
    get = get2
    with concurrent.futures.ThreadPoolExecutor(10) as ex:
        res = list(ex.map(get, range(16)))
    print("whole distinct concurrent bad:", res.count(False))
finally:
    V.cleanup()
