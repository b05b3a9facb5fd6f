"""SigV4 signing: AWS's published test vectors, and botocore's SigV4Auth as referee on Bedrock-shaped requests.

The vectors (tests/auth/sigv4_testsuite, see its README) pin the algorithm; botocore pins our choices where the
docs leave room (which headers are signed, the doubly encoded path of a %-encoded model id), byte for byte.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import pytest
from _pytest.mark.structures import ParameterSet
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from polyresponses.auth import UNSIGNED_HEADERS, AwsCredentials, sign
from polyresponses.auth._sigv4 import _canonical_query, _canonical_uri

SUITE = Path(__file__).parent / "sigv4_testsuite"
CASES = sorted(path.name for path in SUITE.iterdir() if (path / "header-signed-request.txt").is_file())
# The suite's defaults (its context.json files; README "aws-sig-v4-test-suite").
SUITE_CREDENTIALS = AwsCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
SUITE_TIME = datetime(2015, 8, 30, 12, 36, tzinfo=UTC)
KEY = AwsCredentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
TOKEN = "IQoJb3JpZ2luX2VjEXAMPLETOKEN//////////wEaCXVzLWVhc3QtMSJGMEQCIFAKE+token/value=="
WHEN = datetime(2026, 3, 14, 15, 9, 26, tzinfo=UTC)


@dataclass
class SignedRequest:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    expected: dict[str, str]  # the headers signing adds, lowercase names


def parse_signed_request(text: str) -> SignedRequest:
    """The suite's header-signed-request.txt: request line, headers, blank line, body.

    Headers that signing produces are set aside as the expected output. A repeated name, and a continuation
    line (one starting with blanks), add a value: comma-joined, as the suite's canonical requests show
    (get-header-value-multiline/query-canonical-request.txt: ``my-header1:value1,value2,value3``).
    """
    head, _, body = text.partition("\n\n")
    request_line, *lines = head.split("\n")
    method, rest = request_line.split(" ", 1)
    target = rest.rsplit(" ", 1)[0]  # "GET /example space/ HTTP/1.1": the target may hold a space
    fields: list[list[str]] = []
    for line in lines:
        if line[:1] in (" ", "\t"):  # the suite reads a continuation line as one more value of the header
            fields[-1][1] += "," + line.strip()
        else:
            name, _, value = line.partition(":")
            fields.append([name, value])
    headers: dict[str, str] = {}
    expected: dict[str, str] = {}
    for name, value in fields:
        if name.lower() in ("authorization", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256"):
            expected[name.lower()] = value
        else:
            headers[name] = f"{headers[name]},{value}" if name in headers else value
    return SignedRequest(method, target, headers, body.encode("utf-8"), expected)


def load_case(name: str) -> tuple[SignedRequest, AwsCredentials, str, str, datetime]:
    request = parse_signed_request((SUITE / name / "header-signed-request.txt").read_text(encoding="utf-8"))
    context_file = SUITE / name / "context.json"
    if not context_file.exists():
        token = request.expected.get("x-amz-security-token")
        credentials = AwsCredentials(SUITE_CREDENTIALS.access_key_id, SUITE_CREDENTIALS.secret_access_key, token)
        return request, credentials, "us-east-1", "service", SUITE_TIME
    context = json.loads(context_file.read_text(encoding="utf-8"))
    given_credentials = context["credentials"]
    credentials = AwsCredentials(
        given_credentials["access_key_id"], given_credentials["secret_access_key"], given_credentials.get("token")
    )
    when = datetime.fromisoformat(context["timestamp"].replace("Z", "+00:00"))
    return request, credentials, context["region"], context["service"], when


def test_the_suite_is_all_there() -> None:
    """A missing or renamed directory would silently shrink the parametrized test below."""
    assert len(CASES) == 27
    assert {"get-vanilla-query", "get-utf8", "post-sts-header-before", "post-x-www-form-urlencoded"} <= set(CASES)


@pytest.mark.parametrize("case", CASES)
def test_aws_signature_v4_test_suite(case: str) -> None:
    request, credentials, region, service, when = load_case(case)
    host = request.headers["Host"]
    added = sign(
        request.method,
        f"https://{host}{request.target}",
        request.headers,
        request.body,
        credentials=credentials,
        region=region,
        service=service,
        now=when,
        content_sha256_header="x-amz-content-sha256" in request.expected,
    )
    assert added == request.expected


def sign_get_vanilla(now: datetime) -> dict[str, str]:
    """The AWS docs' worked example: GET / on example.amazonaws.com, nothing else."""
    return sign(
        "GET",
        "https://example.amazonaws.com/",
        {},
        b"",
        credentials=SUITE_CREDENTIALS,
        region="us-east-1",
        service="service",
        now=now,
        content_sha256_header=False,
    )


def test_the_documented_get_vanilla_example() -> None:
    assert sign_get_vanilla(SUITE_TIME) == {
        "x-amz-date": "20150830T123600Z",
        "authorization": "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    }


def test_the_time_is_converted_to_utc_and_a_naive_time_is_utc() -> None:
    expected = sign_get_vanilla(SUITE_TIME)
    assert sign_get_vanilla(SUITE_TIME.astimezone(timezone(timedelta(hours=-7)))) == expected
    assert sign_get_vanilla(SUITE_TIME.replace(tzinfo=None)) == expected
    assert sign_get_vanilla(SUITE_TIME + timedelta(seconds=1)) != expected


def test_the_canonical_uri_encodes_an_encoded_model_id_again() -> None:
    """Every service but S3 encodes the path once more (Step 1, CanonicalURI): %3A in the URL is %253A signed."""
    assert _canonical_uri("/model/us.amazon.nova-micro-v1%3A0/converse", "bedrock") == (
        "/model/us.amazon.nova-micro-v1%253A0/converse"
    )
    assert _canonical_uri("/model/us.amazon.nova-micro-v1%3A0/converse", "s3") == (
        "/model/us.amazon.nova-micro-v1%3A0/converse"
    )
    assert _canonical_uri("", "bedrock") == "/"
    assert _canonical_uri("/a/./b/../c//d/", "bedrock") == "/a/c/d/"


def test_the_canonical_query_is_encoded_once_and_sorted() -> None:
    assert _canonical_query("b=2&a=3&a=1&A=z") == "A=z&a=1&a=3&b=2"
    assert _canonical_query("k=%3a&k2=:&k3=%3A&sp=a%20b&plus=a+b&empty") == (
        "empty=&k=%3A&k2=%3A&k3=%3A&plus=a%2Bb&sp=a%20b"
    )
    assert _canonical_query("") == ""


# --- botocore as referee ------------------------------------------------------------------------------------


def botocore_sign(
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes,
    credentials: AwsCredentials,
    region: str,
    service: str,
    *,
    with_content_sha256: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, str]:
    """botocore's SigV4Auth on the same request at WHEN; the headers it added, lowercase names.

    botocore reads the clock through botocore.auth.get_current_datetime (naive UTC; botocore/compat.py). It
    adds no x-amz-content-sha256 outside S3, but signs one the request carries and uses it as the payload
    hash: so our default, which sends it, is compared with botocore signing a request that carries it.
    """

    def frozen_now(remove_tzinfo: bool = True) -> datetime:
        return WHEN.replace(tzinfo=None) if remove_tzinfo else WHEN

    monkeypatch.setattr(botocore.auth, "get_current_datetime", frozen_now)
    given = dict(headers)
    if with_content_sha256:
        given["X-Amz-Content-SHA256"] = hashlib.sha256(body).hexdigest()
    request = botocore.awsrequest.AWSRequest(method=method, url=url, data=body, headers=given)
    botocore_credentials = botocore.credentials.Credentials(
        credentials.access_key_id, credentials.secret_access_key, credentials.session_token
    )
    botocore.auth.SigV4Auth(botocore_credentials, service, region).add_auth(request)
    before = {name.lower() for name in headers}
    return {name.lower(): value for name, value in request.headers.items() if name.lower() not in before}


BEDROCK_BODY = json.dumps({"messages": [{"role": "user", "content": [{"text": "Hi"}]}]}).encode()
INFERENCE_PROFILE = (
    "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-sonnet-4-5-20250929-v1:0"
)
REFEREE_CASES = {
    "converse-nova": (
        "POST",
        "https://bedrock-runtime.us-east-1.amazonaws.com/model/us.amazon.nova-micro-v1%3A0/converse",
        "bedrock",
    ),
    "converse-stream-inference-profile-arn": (
        "POST",
        f"https://bedrock-runtime.us-east-1.amazonaws.com/model/{quote(INFERENCE_PROFILE, safe='')}/converse-stream",
        "bedrock",
    ),
    "mantle-responses": ("POST", "https://bedrock-mantle.us-east-1.api.aws/v1/responses", "bedrock-mantle"),
    "query-string": (
        "GET",
        "https://bedrock.us-east-1.amazonaws.com/foundation-models?byProvider=anthropic&byOutputModality=TEXT"
        "&nextToken=a%2Fb%3D%3D",
        "bedrock",
    ),
    "port-and-dot-segments": ("POST", "http://LocalHost:8080/a/./b/../model/x%2Fy/invoke", "bedrock"),
}


def referee_requests() -> list[ParameterSet]:
    return [
        pytest.param(
            method,
            url,
            service,
            token,
            with_sha,
            id=f"{name}-{'token' if token else 'static'}-{'sha256' if with_sha else 'plain'}",
        )
        for name, (method, url, service) in REFEREE_CASES.items()
        for token in (None, TOKEN)
        for with_sha in (True, False)
    ]


@pytest.mark.parametrize(("method", "url", "service", "token", "with_sha"), referee_requests())
def test_signing_equals_botocore(
    method: str, url: str, service: str, token: str | None, with_sha: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    credentials = AwsCredentials(KEY.access_key_id, KEY.secret_access_key, token)
    body = b"" if method == "GET" else BEDROCK_BODY
    headers = {"Content-Type": "application/json", "Accept": "application/json", "User-Agent": "polyresponses/0.1"}
    request = (method, url, headers, body)
    ours = sign(
        *request, credentials=credentials, region="us-east-1", service=service, now=WHEN, content_sha256_header=with_sha
    )
    theirs = botocore_sign(
        *request, credentials, "us-east-1", service, with_content_sha256=with_sha, monkeypatch=monkeypatch
    )
    assert ours == theirs
    assert ("x-amz-security-token" in ours) == (token is not None)
    assert ("x-amz-content-sha256" in ours) == with_sha
    assert "user-agent" not in ours["authorization"]  # UNSIGNED_HEADERS, as botocore


def test_botocore_alone_adds_no_content_sha256(monkeypatch: pytest.MonkeyPatch) -> None:
    """The finding behind content_sha256_header: plain SigV4Auth (service bedrock) sends no x-amz-content-sha256."""
    method, url, service = REFEREE_CASES["converse-nova"]
    theirs = botocore_sign(
        method, url, {}, BEDROCK_BODY, KEY, "us-east-1", service, with_content_sha256=False, monkeypatch=monkeypatch
    )
    assert set(theirs) == {"x-amz-date", "authorization"}
    assert "SignedHeaders=host;x-amz-date," in theirs["authorization"]


_HEADER_NAMES = st.text(
    st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-"), min_size=1, max_size=12
)


@settings(max_examples=60)
@given(
    segments=st.lists(st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), max_size=8), max_size=4),
    query=st.lists(st.tuples(st.text(max_size=6), st.text(max_size=6)), max_size=3),
    headers=st.dictionaries(_HEADER_NAMES, st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=12)),
    body=st.binary(max_size=64),
)
def test_signing_equals_botocore_on_generated_requests(
    segments: list[str], query: list[tuple[str, str]], headers: dict[str, str], body: bytes
) -> None:
    """Arbitrary (percent-encoded) paths, canonical queries and header values: the same bytes as botocore.

    The query is generated in canonical form, the one botocore signs as given (ours decodes and re-encodes).
    """
    # Left out: host and authorization (the URL's and ours), and date, which botocore rewrites (it then signs
    # Date instead of adding X-Amz-Date, botocore/auth.py _set_necessary_date_headers; we always add X-Amz-Date,
    # which AWS prefers when both are present). Names differing only in case: botocore's headers keep one.
    headers = {name: value for name, value in headers.items() if name.lower() not in ("host", "authorization", "date")}
    assume(len({name.lower() for name in headers}) == len(headers))
    path = "/" + "/".join(quote(segment, safe="") for segment in segments)
    query_text = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in query)
    url = f"https://bedrock-runtime.eu-west-3.amazonaws.com{path}" + (f"?{query_text}" if query_text else "")
    with pytest.MonkeyPatch.context() as monkeypatch:
        theirs = botocore_sign(
            "POST", url, headers, body, KEY, "eu-west-3", "bedrock", with_content_sha256=False, monkeypatch=monkeypatch
        )
    ours = sign(
        "POST",
        url,
        headers,
        body,
        credentials=KEY,
        region="eu-west-3",
        service="bedrock",
        now=WHEN,
        content_sha256_header=False,
    )
    assert ours == theirs


# --- what sign signs, and what it never shows ---------------------------------------------------------------


def signed_headers_of(added: dict[str, str]) -> list[str]:
    return added["authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")


def test_headers_that_botocore_leaves_unsigned_are_left_unsigned() -> None:
    headers = {name: "x" for name in UNSIGNED_HEADERS} | {"Content-Type": "application/json"}
    added = sign("POST", "https://h.example/", headers, b"{}", credentials=KEY, region="r", service="s", now=WHEN)
    assert signed_headers_of(added) == ["content-type", "host", "x-amz-content-sha256", "x-amz-date"]


def test_stale_signing_headers_are_replaced_not_signed_twice() -> None:
    """A retry passes the previous attempt's headers back: ours replace them (botocore deletes them first)."""
    credentials = AwsCredentials(KEY.access_key_id, KEY.secret_access_key, TOKEN)
    fresh = sign("POST", "https://h.example/", {}, b"{}", credentials=credentials, region="r", service="s", now=WHEN)
    stale = {
        "Authorization": "old",
        "X-Amz-Date": "20000101T000000Z",
        "X-Amz-Security-Token": "old",
        "X-Amz-Content-Sha256": "old",
    }
    again = sign("POST", "https://h.example/", stale, b"{}", credentials=credentials, region="r", service="s", now=WHEN)
    assert again == fresh


def test_a_given_host_header_wins_and_the_default_port_is_dropped() -> None:
    def signed(url: str, headers: dict[str, str] | None = None) -> dict[str, str]:
        return sign("GET", url, headers or {}, b"", credentials=KEY, region="r", service="s", now=WHEN)

    reference = signed("https://h.example/")
    assert signed("https://h.example:443/") == reference
    assert signed("https://H.EXAMPLE/") == reference
    assert signed("https://user:pw@h.example/") == reference
    assert signed("https://elsewhere.example/", {"Host": "h.example"}) == reference
    assert signed("https://h.example:8443/") != reference
    assert signed("http://h.example:80/") == signed("http://h.example/")
    assert signed("https://[::1]:8443/") == signed("https://elsewhere.example/", {"Host": "[::1]:8443"})


def test_the_secret_is_in_no_repr_and_no_error() -> None:
    secret, token = "s3cr3t/Secret+Key+That+Must+Not+Leak00", "T0ken+That+Must+Not+Leak"
    credentials = AwsCredentials("AKIDLEAKTEST", secret, token, expires_at=1.0)
    assert secret not in repr(credentials) and token not in repr(credentials)
    assert "AKIDLEAKTEST" in repr(credentials)
    errors: list[Exception] = []
    for url in ("not a url", "ftp://h.example/", "https:///nohost", "https://h.example:99999/"):
        with pytest.raises(ValueError) as caught:
            sign("GET", url, {}, b"", credentials=credentials, region="r", service="s")
        errors.append(caught.value)
    for bad in (secret + "\n", "sécret", ""):
        with pytest.raises(ValueError) as caught:
            AwsCredentials("AKIDLEAKTEST", bad)
        errors.append(caught.value)
    with pytest.raises(ValueError) as caught:
        AwsCredentials("AKIDLEAKTEST", secret, token + "\r\nX-Injected: 1")
    errors.append(caught.value)
    for error in errors:
        assert secret not in str(error) and token not in str(error) and "sécret" not in str(error)
        assert secret not in repr(error.args) and token not in repr(error.args)


def test_credentials_are_checked_by_field_name() -> None:
    with pytest.raises(ValueError, match="session_token"):
        AwsCredentials("AKID", "secret", " padded")
    with pytest.raises(ValueError, match="access_key_id"):
        AwsCredentials("", "secret")
