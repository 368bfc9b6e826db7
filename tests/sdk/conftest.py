"""The SDK page fixtures of test_sdk_browser.py (a customer's page on another origin), for every SDK test."""

from tests.sdk.test_sdk_browser import (  # noqa: F401  (fixtures shared with other SDK tests)
    browser,
    host_dir,
    host_server,
    make_page,
    sdk_src,
)
