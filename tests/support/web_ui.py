"""Drive the Airflow 3.3 web UI in headless Chromium, as a person would (selenium).

The helpers take a base URL, a user name and a password only, so the same steps run against
any Airflow stack. Locators come from the UI itself: the simple auth manager's login form
(``username``/``password`` inputs), the trigger form's ``element_<param>`` fields, the
``data-testid`` attributes of buttons and state badges, and the Required Actions page.

Every step saves a numbered screenshot under one folder that is kept after the test; a
failure inside ``signed_in`` also saves the page source next to its screenshot.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote

from tests.support.paths import PROJECT_ROOT

SCREENSHOT_ROOT = PROJECT_ROOT / ".local" / "screenshots" / "web_ui"
CHROMIUM = os.environ.get("WEB_UI_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("WEB_UI_CHROMEDRIVER", "/usr/bin/chromedriver")
PAGE_TIMEOUT = 30  # a page or element on a busy 2-core machine
TERMINAL_RUN_STATES = ("Success", "Failed")


def require_browser() -> None:
    """Fail (never skip) with what to install when the browser is missing: a skipped UI test
    would pass CI without the UI ever being checked."""
    missing = [
        path for path in (CHROMIUM, CHROMEDRIVER) if not (os.path.isfile(path) and os.access(path, os.X_OK))
    ]
    if missing:
        raise AssertionError(
            f"the web UI test needs headless Chromium and its driver; missing {missing}. "
            "Install them (Debian: apt-get install chromium chromium-driver) or point "
            "WEB_UI_CHROMIUM / WEB_UI_CHROMEDRIVER at them."
        )
    try:
        import selenium  # noqa: F401
    except ImportError as exc:
        raise AssertionError(f"the web UI test needs selenium (requirements.txt): {exc}") from None


class Screenshots:
    """Numbered screenshots of one test in a folder kept after the test (the last run's only)."""

    def __init__(self, name: str):
        self.folder = SCREENSHOT_ROOT / name
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)
        self.count = 0
        self.step = "start"
        print(f"web UI screenshots: {self.folder}")

    def take(self, driver, step: str) -> Path:
        self.count += 1
        self.step = step
        path = self.folder / f"{self.count:02d}-{step}.png"
        driver.save_screenshot(str(path))
        return path

    def failure(self, driver, label: str) -> Path:
        """Screenshot and page source of the page a failed step left behind."""
        self.count += 1
        stem = self.folder / f"{self.count:02d}-FAILED-{label}-after-{self.step}"
        try:
            driver.save_screenshot(f"{stem}.png")
            Path(f"{stem}.html").write_text(driver.page_source)
        except Exception as exc:  # the browser itself may be what failed
            Path(f"{stem}.txt").write_text(f"could not capture the page: {exc!r}")
        print(f"web UI failure captured: {stem}.png / .html (url {safe_url(driver)})")
        return stem


def safe_url(driver) -> str:
    try:
        return driver.current_url
    except Exception as exc:
        return f"(unknown: {exc!r})"


def new_driver():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    # --no-sandbox: containers run as root; a tall window keeps the trigger form and the
    # approval buttons in one screenshot.
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1440,1100"):
        options.add_argument(arg)
    return webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))


def wait_until(driver, what: str, condition, timeout: float = PAGE_TIMEOUT, interval: float = 0.5):
    """Poll ``condition(driver)`` until it returns something truthy; stale or missing elements
    while React re-renders count as "not yet"."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException

    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            result = condition(driver)
            if result:
                return result
        except (NoSuchElementException, StaleElementReferenceException) as exc:
            last = exc
        time.sleep(interval)
    raise AssertionError(
        f"timed out after {timeout:g} s waiting for {what} at {safe_url(driver)}"
        + (f" (last: {type(last).__name__})" if last else "")
    )


def by_testid(testid: str) -> tuple[str, str]:
    from selenium.webdriver.common.by import By

    return By.CSS_SELECTOR, f"[data-testid='{testid}']"


def visible(driver, locator):
    elements = [e for e in driver.find_elements(*locator) if e.is_displayed()]
    return elements[0] if elements else None


def click(driver, element) -> None:
    # Centred first: the sticky header and the dialog footer would otherwise take the click.
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    element.click()


@contextmanager
def signed_in(base_url: str, username: str, password: str, shots: Screenshots):
    """A fresh browser signed in through the login page as ``username``; on any failure inside,
    the page is captured before the browser quits."""
    require_browser()
    driver = new_driver()
    try:
        sign_in(driver, base_url, username, password, shots)
        yield driver
    except BaseException:
        shots.failure(driver, username)
        raise
    finally:
        driver.quit()


def sign_in(driver, base_url: str, username: str, password: str, shots: Screenshots) -> None:
    from selenium.webdriver.common.by import By

    driver.get(base_url + "/")
    # The UI sends a signed-out visitor to the auth manager's login page.
    wait_until(
        driver,
        "the login page",
        lambda d: "/auth/login" in d.current_url and visible(d, (By.NAME, "username")),
    )
    driver.find_element(By.NAME, "username").send_keys(username)
    driver.find_element(By.NAME, "password").send_keys(password)
    shots.take(driver, f"login-{username}")
    # The simple auth manager's page has a <button>, FAB's an <input type=submit>.
    submit = driver.find_element(By.CSS_SELECTOR, "button[type=submit], input[type=submit]")
    wait_until(driver, "the Sign in button to enable", lambda d: submit.is_enabled())
    submit.click()
    wait_until(
        driver,
        f"the UI after signing in as {username}",
        lambda d: "/auth/login" not in d.current_url and visible(d, by_testid("nav-sidebar")),
    )
    shots.take(driver, f"signed-in-{username}")


def fill_param(driver, name: str, value) -> None:
    """Set one Param in the trigger form the way its widget takes input."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    field = driver.find_element(By.NAME, f"element_{name}")
    kind = field.get_attribute("type")
    if kind == "hidden":  # an enum: a react-select whose value sits in a hidden input
        combobox = driver.find_element(By.CSS_SELECTOR, f"#element_{name} input[role=combobox]")
        click(driver, combobox)
        combobox.send_keys(str(value))
        combobox.send_keys(Keys.ENTER)

        def shown(d):
            return d.find_element(By.NAME, f"element_{name}").get_attribute("value") == str(value)
    elif kind == "checkbox":  # a boolean: a switch; its visually hidden input takes no clicks
        if field.is_selected() != bool(value):
            click(driver, field.find_element(By.XPATH, "./ancestor::label[1]"))

        def shown(d):
            return d.find_element(By.NAME, f"element_{name}").is_selected() == bool(value)
    else:  # text and number inputs
        click(driver, field)
        field.send_keys(Keys.CONTROL, "a")
        field.send_keys(str(value))

        def shown(d):
            return d.find_element(By.NAME, f"element_{name}").get_attribute("value") == str(value)

    wait_until(driver, f"param {name!r} to show {value!r}", shown, timeout=5)


def set_logical_date(driver, moment: datetime) -> None:
    """Type ``moment`` (UTC) into the trigger form's Logical Date picker: its popover holds a
    date input (YYYY/MM/DD) and a time input (HH:MM) above the calendar."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    moment = moment.astimezone(UTC)
    shown = (
        f"{moment:%b} {moment.day}, {moment:%Y %H:%M}"  # how the closed picker shows it: "Nov 21, 2026 06:00"
    )
    picker = driver.find_element(*by_testid("datetime-input"))
    click(driver, picker)
    popover = wait_until(
        driver,
        "the Logical Date picker",
        lambda d: next(
            (
                p
                for p in d.find_elements(By.CSS_SELECTOR, "[data-scope=popover][data-part=content]")
                if p.is_displayed() and len(p.find_elements(By.TAG_NAME, "input")) == 2
            ),
            None,
        ),
    )
    date_input, time_input = popover.find_elements(By.TAG_NAME, "input")
    for field, text in ((date_input, f"{moment:%Y/%m/%d}"), (time_input, f"{moment:%H:%M}")):
        click(driver, field)
        field.send_keys(Keys.CONTROL, "a")
        field.send_keys(text)
    time_input.send_keys(Keys.ESCAPE)  # closes the popover, keeps the value
    wait_until(
        driver,
        f"the Logical Date to show {shown!r}",
        lambda d: d.find_element(*by_testid("datetime-input")).text.strip() == shown,
        timeout=5,
    )


def trigger_dag(
    driver, base_url: str, dag_id: str, params: dict, shots: Screenshots, logical_date: datetime | None = None
) -> str:
    """Open the DAG page, fill its Trigger form with ``params`` (and the Logical Date, when
    given; the form's default is now) and submit; returns the run id of the run page the UI opens."""
    from selenium.webdriver.common.by import By

    driver.get(f"{base_url}/dags/{dag_id}")
    button = wait_until(
        driver, f"the Trigger button of {dag_id}", lambda d: visible(d, by_testid("trigger-dag-button"))
    )
    shots.take(driver, f"dag-page-{dag_id}")
    button.click()
    # The Params arrive after the dialog opens: wait for the first one before typing.
    wait_until(
        driver,
        "the trigger form's Params",
        lambda d: (
            visible(d, (By.CSS_SELECTOR, "[role=dialog]"))
            and d.find_elements(By.NAME, f"element_{next(iter(params))}")
        ),
    )
    if logical_date is not None:
        set_logical_date(driver, logical_date)
    for name, value in params.items():
        fill_param(driver, name, value)
    shots.take(driver, "trigger-form-filled")
    submit = driver.find_element(*by_testid("trigger-dag-submit"))
    wait_until(
        driver,
        "the form's Trigger button to enable (a Param may be invalid)",
        lambda d: submit.is_enabled(),
        timeout=5,
    )
    click(driver, submit)
    run_page = re.compile(rf"/dags/{re.escape(dag_id)}/runs/([^/?#]+)$")
    match = wait_until(driver, "the new run's page", lambda d: run_page.search(d.current_url))
    run_id = unquote(match.group(1))
    wait_until(driver, "the run's state badge", lambda d: run_state_shown(d))
    shots.take(driver, "run-triggered")
    return run_id


def run_state_shown(driver) -> str | None:
    """The state badge in the run page's header card ("Queued", "Running", "Success", ...)."""
    from selenium.webdriver.common.by import By

    badge = driver.find_elements(By.CSS_SELECTOR, "[data-testid='header-card'] [data-testid='state-badge']")
    return badge[0].text.strip() if badge and badge[0].text.strip() else None


def wait_for_run_page_state(
    driver,
    base_url: str,
    dag_id: str,
    run_id: str,
    shots: Screenshots,
    timeout: float,
    check_alive=lambda: None,
) -> str:
    """Watch the run page (the UI refreshes an active run by itself) until the run ends; returns
    the final state as the page shows it. ``check_alive`` lets the caller fail early when a
    service dies."""
    run_url = f"{base_url}/dags/{dag_id}/runs/{run_id}"
    if unquote(driver.current_url) != run_url:
        driver.get(run_url)
    seen = []

    def ended(d):
        check_alive()
        state = run_state_shown(d)
        if state and (not seen or seen[-1] != state):
            seen.append(state)
        return state if state in TERMINAL_RUN_STATES else None

    try:
        state = wait_until(driver, f"run {run_id} to end", ended, timeout=timeout, interval=2)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; states shown: {seen}") from None
    shots.take(driver, f"run-{state.lower()}")
    return state


def answer_required_action(
    driver, base_url: str, run_id: str, option: str, responder: str, shots: Screenshots
) -> None:
    """From the Required Actions page, open the run's pending action and click ``option``;
    returns once the panel records the response by ``responder``."""
    from selenium.webdriver.common.by import By

    driver.get(base_url + "/required_actions")
    row_locator = (By.XPATH, f"//tr[.//*[@data-testid='table-cell-run_id'][normalize-space()='{run_id}']]")
    row = wait_until(driver, f"run {run_id} on the Required Actions page", lambda d: visible(d, row_locator))
    shots.take(driver, "required-actions")
    click(driver, row.find_element(By.CSS_SELECTOR, "[data-testid='table-cell-subject'] a"))
    button = wait_until(
        driver,
        f"the {option!r} button of the pending action",
        lambda d: (b := visible(d, by_testid(f"hitl-option-{option}"))) and b.is_enabled() and b,
    )
    shots.take(driver, "approval-panel")
    click(driver, button)
    wait_until(
        driver,
        f"the panel to record the response by {responder}",
        lambda d: re.search(
            rf"Response received at .+ from {re.escape(responder)}\b",
            d.find_element(*by_testid("main-content")).text,
        ),
    )
    shots.take(driver, f"answered-{option.lower()}")
