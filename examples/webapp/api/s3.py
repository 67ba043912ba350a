# A small S3 client for functions on Aloft, with nothing but the standard
# library: requests are path-style ($AWS_ENDPOINT_URL/<bucket>/<key>) and
# signed with Signature Version 4 using the credentials of its execution
# role that Aloft gives each function in its environment.
import datetime
import hashlib
import hmac
import os
import urllib.error
import urllib.parse
import urllib.request


def _hmac(key, text):
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def request(method, bucket, key="", query=None, body=b"", headers=None):
    """Send one signed request; return (status, headers, body)."""
    endpoint = urllib.parse.urlsplit(os.environ["AWS_ENDPOINT_URL"])
    region = os.environ.get("AWS_REGION", "us-east-1")
    now = datetime.datetime.now(datetime.timezone.utc)
    stamp, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")

    path = "/" + urllib.parse.quote(bucket) + ("/" + urllib.parse.quote(key) if key else "")
    qs = "&".join(
        urllib.parse.quote(k, safe="-_.~") + "=" + urllib.parse.quote(v, safe="-_.~")
        for k, v in sorted((query or {}).items())
    )
    payload_hash = hashlib.sha256(body).hexdigest()
    hdrs = {k.lower(): v for k, v in (headers or {}).items()}
    hdrs.update({"host": endpoint.netloc, "x-amz-date": stamp, "x-amz-content-sha256": payload_hash})
    if os.environ.get("AWS_SESSION_TOKEN"):
        # The function's credentials are its execution role's: temporary,
        # with a session token that is signed like any other header.
        hdrs["x-amz-security-token"] = os.environ["AWS_SESSION_TOKEN"]

    # The canonical request names every header we send, sorted.
    names = sorted(hdrs)
    canonical = "\n".join([
        method, path, qs,
        "".join(f"{n}:{str(hdrs[n]).strip()}\n" for n in names),
        ";".join(names), payload_hash,
    ])
    scope = f"{day}/{region}/s3/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key_ = ("AWS4" + os.environ["AWS_SECRET_ACCESS_KEY"]).encode()
    for part in (day, region, "s3", "aws4_request"):
        key_ = _hmac(key_, part)
    signature = hmac.new(key_, to_sign.encode(), hashlib.sha256).hexdigest()
    hdrs["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={os.environ['AWS_ACCESS_KEY_ID']}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}"
    )

    url = f"{endpoint.scheme}://{endpoint.netloc}{path}" + (f"?{qs}" if qs else "")
    req = urllib.request.Request(url, data=body if method in ("PUT", "POST") else None, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()
