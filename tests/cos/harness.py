"""A veild of the build under test, on free loopback ports in a temporary directory, with what the
object storage tests need made through Veil's own HTTP APIs: an admin token, a KMS instance and a
root key, a cloud-object-storage instance, the cloud-object-storage -> kms authorization, and HMAC
credentials. Used by the S3 compatibility suites in this directory (/usr/bin/python3 only)."""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request


def free_port_base():
    """A base port whose +1..+5 are free now (best effort)."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1] - 1
        if base < 20000 or base > 60000:
            continue
        try:
            for k in range(1, 6):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", base + k))
            return base
        except OSError:
            continue
    raise RuntimeError("no free port base")


def call(method, url, body=None, headers=None, token=None):
    """(status, headers, body bytes) of one HTTP request; never raises for an HTTP status."""
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if token:
        req.add_header("Authorization", "Bearer " + token)
    if isinstance(body, str) and body.startswith("{"):
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def call_json(method, url, body=None, token=None, want=(200, 201)):
    status, _, data = call(method, url, body, token=token)
    if status not in want:
        raise AssertionError(f"{method} {url}: {status} {data[:500]!r}")
    return json.loads(data) if data else {}


class Veild:
    def __init__(self, build):
        self.build = build
        self.dir = tempfile.mkdtemp(prefix="veil-cos-")
        self.data = os.path.join(self.dir, "data")
        self.base = free_port_base()
        self.proc = None
        self.extra = []  # more veild arguments

    def url(self, offset, path=""):
        return f"http://127.0.0.1:{self.base + offset}{path}"

    @property
    def s3(self):
        return self.url(3)

    def start(self):
        with open(os.path.join(self.dir, "veild.log"), "a") as log:  # veild keeps its own copy
            self.proc = subprocess.Popen(
                [os.path.join(self.build, "bin", "veild"), "--data-dir", self.data,
                 "--port-base", str(self.base), *self.extra],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("veild exited: " + self.log())
            try:
                if all(call("GET", self.url(k, "/healthz"))[0] == 200 for k in range(1, 6)):
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("veild did not become healthy: " + self.log())

    def log(self):
        with open(os.path.join(self.dir, "veild.log"), errors="replace") as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(timeout=30)
        self.proc = None

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    # --- Setup through Veil's APIs
    def token(self, apikey=None):
        if apikey is None:
            with open(os.path.join(self.data, "admin-apikey")) as f:
                apikey = f.read().strip()
        status, _, data = call(
            "POST", self.url(1, "/identity/token"),
            "grant_type=urn%3Aibm%3Aparams%3Aoauth%3Agrant-type%3Aapikey&apikey=" + apikey,
            headers={"Content-Type": "application/x-www-form-urlencoded"})
        if status != 200:
            raise AssertionError(f"login: {status} {data!r}")
        return json.loads(data)["access_token"]

    def instance(self, token, service, name):
        body = json.dumps({"name": name, "resource_id": service, "target": "local"})
        return call_json("POST", self.url(1, "/v2/resource_instances"), body, token)

    def root_key(self, token, kms_instance, name="cos-root"):
        body = json.dumps({
            "metadata": {"collectionType": "application/vnd.ibm.kms.key+json",
                         "collectionTotal": 1},
            "resources": [{"type": "application/vnd.ibm.kms.key+json", "name": name,
                           "extractable": False}]})
        status, _, data = call("POST", self.url(2, "/api/v2/keys"), body,
                               {"bluemix-instance": kms_instance}, token)
        if status != 201:
            raise AssertionError(f"create key: {status} {data!r}")
        return json.loads(data)["resources"][0]

    def key_action(self, token, kms_instance, key_id, action, want=(200, 204)):
        status, _, data = call("POST", self.url(2, f"/api/v2/keys/{key_id}/actions/{action}"),
                               "{}", {"bluemix-instance": kms_instance}, token)
        if status not in want:
            raise AssertionError(f"{action}: {status} {data!r}")

    def authorize_cos(self, token, account):
        body = json.dumps({
            "type": "authorization",
            "subjects": [{"attributes": [{"name": "serviceName",
                                          "value": "cloud-object-storage"}]}],
            "roles": [{"role_id": "crn:v1:veil:public:iam::::serviceRole:Reader"}],
            "resources": [{"attributes": [{"name": "accountId", "value": account},
                                          {"name": "serviceName", "value": "kms"}]}]})
        return call_json("POST", self.url(1, "/v1/policies"), body, token)

    def hmac(self, token, cos_instance, role, name=None):
        body = json.dumps({"name": name or ("cos-" + role.lower()), "source": cos_instance,
                           "role": role, "parameters": {"HMAC": True}})
        key = call_json("POST", self.url(1, "/v2/resource_keys"), body, token)
        creds = key["credentials"]["cos_hmac_keys"]
        return creds["access_key_id"], creds["secret_access_key"]
