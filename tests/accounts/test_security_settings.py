"""Production security by environment, the Content Security Policy and the self-hosted API docs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]

# The production environment docs/operations.md "Production settings" documents.
PRODUCTION_ENV = {
    "DJANGO_SECRET_KEY": "k" * 20 + "-a-long-random-secret-from-the-environment-" + "x" * 20,
    "JOURNEYS_HTTPS": "1",
    "ALLOWED_HOSTS": "journeys.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://journeys.example.com",
    "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto: https",
    "JOURNEYS_PROXY_COUNT": "1",
}


def run_django(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """A fresh process on the real settings (not the test ones) with only ``env`` set."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO", "JOURNEYS", "SECURE_", "ALLOWED_HOSTS", "CSRF_"))
        and k not in {"DATABASE_URL", "REDIS_URL"}
    }
    clean |= {"DJANGO_SETTINGS_MODULE": "journeys_site.settings", "JOURNEYS_VAR_DIR": str(tmp_path)}
    clean |= env
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120
    )


SHOW_SETTINGS = """
import django, json
django.setup()
from django.conf import settings as s
print(json.dumps({k: getattr(s, k) for k in [
    "DEBUG", "SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_PROXY_SSL_HEADER",
    "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS", "CONTENT_SECURITY_POLICY"]}))
"""


def test_check_deploy_is_clean_under_the_documented_production_environment(
    tmp_path: Path,
) -> None:
    result = run_django(tmp_path, PRODUCTION_ENV, "manage.py", "check", "--deploy")
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout, (
        result.stdout + result.stderr
    )


def test_check_deploy_warns_without_it(tmp_path: Path) -> None:
    result = run_django(tmp_path, {}, "manage.py", "check", "--deploy")
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in result.stdout + result.stderr


def test_the_production_environment_turns_on_https_protections(tmp_path: Path) -> None:
    result = run_django(tmp_path, PRODUCTION_ENV, "-c", SHOW_SETTINGS)
    assert result.returncode == 0, result.stderr
    s = json.loads(result.stdout.strip().splitlines()[-1])
    assert s["DEBUG"] is False
    assert s["SECURE_SSL_REDIRECT"] is True
    assert s["SESSION_COOKIE_SECURE"] is True
    assert s["CSRF_COOKIE_SECURE"] is True
    assert s["SECURE_HSTS_SECONDS"] >= 31536000
    assert s["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert s["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert s["ALLOWED_HOSTS"] == ["journeys.example.com"]
    assert s["CSRF_TRUSTED_ORIGINS"] == ["https://journeys.example.com"]
    connect = s["CONTENT_SECURITY_POLICY"]["DIRECTIVES"]["connect-src"]
    assert connect == ["'self'", "wss://journeys.example.com:*"]


FETCH_LOGIN = """
import django, json
django.setup()
from django.test import Client
c = Client(HTTP_HOST="journeys.example.com")
plain = c.get("/login/")
proxied = c.get("/login/", HTTP_X_FORWARDED_PROTO="https")
print(json.dumps({
    "plain": [plain.status_code, plain.headers.get("Location")],
    "https": [proxied.status_code, proxied.headers.get("Strict-Transport-Security"),
              proxied.cookies["csrftoken"]["secure"] if "csrftoken" in proxied.cookies else None],
}))
"""


def test_behind_the_proxy_http_is_redirected_and_https_answers_with_hsts(tmp_path: Path) -> None:
    result = run_django(tmp_path, PRODUCTION_ENV, "-c", FETCH_LOGIN)
    assert result.returncode == 0, result.stderr
    answers = json.loads(result.stdout.strip().splitlines()[-1])
    assert answers["plain"] == [301, "https://journeys.example.com/login/"]
    status, hsts, secure_cookie = answers["https"]
    assert status == 200
    assert hsts == "max-age=31536000; includeSubDomains; preload"
    assert secure_cookie is True


def test_each_protection_can_be_set_on_its_own(tmp_path: Path) -> None:
    env = PRODUCTION_ENV | {"SECURE_SSL_REDIRECT": "0", "SECURE_HSTS_SECONDS": "600"}
    s = json.loads(run_django(tmp_path, env, "-c", SHOW_SETTINGS).stdout.strip().splitlines()[-1])
    assert s["SECURE_SSL_REDIRECT"] is False
    assert s["SECURE_HSTS_SECONDS"] == 600
    assert s["SESSION_COOKIE_SECURE"] is True


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SECURE_PROXY_SSL_HEADER", "https"),
        ("SECURE_HSTS_SECONDS", "a year"),
        ("JOURNEYS_HTTPS", "maybe"),
        ("CSRF_TRUSTED_ORIGINS", "journeys.example.com"),
        ("JOURNEYS_TOKEN_TTL_DAYS", "0"),
    ],
)
def test_a_bad_value_stops_the_start_with_its_name(tmp_path: Path, name: str, value: str) -> None:
    result = run_django(tmp_path, PRODUCTION_ENV | {name: value}, "-c", SHOW_SETTINGS)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert name in result.stderr


def test_the_embedded_default_stays_on_plain_http() -> None:
    # The test settings are the real ones with no variables set.
    assert settings.SECURE_SSL_REDIRECT is False
    assert settings.SESSION_COOKIE_SECURE is False
    assert settings.SECURE_HSTS_SECONDS == 0
    assert settings.SECURE_PROXY_SSL_HEADER is None


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/login/", "/admin/login/", "/api/docs/", "/healthz"])
def test_every_page_carries_the_content_security_policy(path: str) -> None:
    response = Client().get(path)
    policy = response.headers.get("Content-Security-Policy", "")
    directives = {d.split()[0]: d.split()[1:] for d in (p.strip() for p in policy.split(";")) if d}
    assert directives["script-src"] == ["'self'"]
    assert directives["default-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'", "'unsafe-inline'"]
    assert directives["img-src"] == ["'self'", "data:"]
    assert "'self'" in directives["connect-src"]
    assert any(s.startswith("ws://") for s in directives["connect-src"])
    assert directives["frame-ancestors"] == ["'none'"]


@pytest.mark.django_db
def test_the_signed_in_pages_carry_it_too(marketer: Any, project: Any) -> None:
    client = Client()
    client.force_login(marketer)
    for path in ("/journeys/", "/settings/", "/profiles/"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "script-src 'self'" in response.headers["Content-Security-Policy"], path


@pytest.mark.django_db
def test_the_api_docs_load_nothing_from_another_site() -> None:
    html = Client().get("/api/docs/").content.decode()
    urls = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert urls, html
    assert all(u.startswith("/") and not u.startswith("//") for u in urls), urls
    assert "http://" not in html
    assert "https://" not in html
    assert "<script>" not in html  # nothing inline: the policy would refuse it
    script = re.search(r'<script src="([^"]+)"', html)
    assert script is not None
    path = script.group(1).removeprefix(settings.STATIC_URL)
    assert finders.find(path), f"{path} is not among our static files"


@pytest.mark.django_db
def test_no_template_has_an_inline_script() -> None:
    offenders = []
    for folder in ("templates", "accounts", "builder", "stats"):
        for template in (ROOT / folder).rglob("*.html"):
            text = template.read_text()
            for match in re.finditer(r"<script\b([^>]*)>", text):
                attrs = match.group(1)
                if "src=" not in attrs and "application/json" not in attrs:
                    offenders.append(str(template.relative_to(ROOT)))
            if re.search(r"\son[a-z]+\s*=", text):
                offenders.append(str(template.relative_to(ROOT)) + " (event handler attribute)")
    assert offenders == []
