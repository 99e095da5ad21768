"""Parsing what SCM sends: arbitrary bodies never escape as anything but a clean refusal."""

from __future__ import annotations

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from certbench.core.pki.sectigo.errors import (
    CertificateNotReady,
    SectigoAuthError,
    SectigoError,
    SectigoNotFound,
    SectigoRequestRefused,
    SectigoUnavailable,
    error_from_response,
    parse_error_body,
)
from certbench.core.pki.sectigo.formats import FORMATS, parse_collected


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=600), fmt=st.sampled_from(FORMATS))
def test_parse_collected_refuses_garbage_with_value_error(data, fmt):
    try:
        certs = parse_collected(data, fmt)
    except ValueError:
        return
    assert certs  # only real certificates get through


@settings(max_examples=200, deadline=None)
@given(body=st.one_of(st.binary(max_size=200), st.dictionaries(st.text(max_size=12), st.integers() | st.text(max_size=20),
                                                                max_size=4).map(lambda d: httpx.Response(400, json=d).content)),
       status=st.sampled_from([400, 401, 403, 404, 429, 500, 502, 503]))
def test_error_from_response_always_typed(body, status):
    error = error_from_response(httpx.Response(status, content=body), what="do it", order_id="7")
    assert isinstance(error, SectigoError) and error.status == status and error.message


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [(400, 0, CertificateNotReady), (400, -183, CertificateNotReady), (400, -1400, CertificateNotReady),
     (401, 0, SectigoAuthError), (404, 0, SectigoNotFound), (500, 0, SectigoUnavailable), (400, -36, SectigoRequestRefused),
     (401, -183, SectigoAuthError), (404, -183, SectigoNotFound)],
)
def test_pending_only_as_http_400(status, code, kind):
    response = httpx.Response(status, json={"code": code, "description": "x"})
    assert type(error_from_response(response, what="collect", order_id="1")) is kind
    assert parse_error_body(response) == (code, "x")
