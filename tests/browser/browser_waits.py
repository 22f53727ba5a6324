"""Waits for the browser tests that hold on a busy machine: never sleep, wait for the condition.

Dash re-renders components when a callback returns, so an element found a moment ago can be replaced
before it is read (StaleElementReferenceException), and on a loaded machine callbacks and simulation
runs take many times longer than on an idle one. Every helper here therefore

* polls a condition with :class:`WebDriverWait` and ``ignored_exceptions`` (stale, missing and
  not-yet-interactable elements, and scripts that meet a half-rendered DOM are retried, not failures);
* finds elements afresh on every poll instead of keeping references across an action;
* waits for Dash to finish its callbacks (no pending callback in the renderer's store, no
  ``_dash-loading-callback`` marker) before a test reads what a callback produced;
* uses generous timeouts: they only bound how long a broken page takes to fail.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from selenium.common.exceptions import (
    ElementClickInterceptedException,
    ElementNotInteractableException,
    JavascriptException,
    NoSuchElementException,
    StaleElementReferenceException,
    TimeoutException,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

#: seconds: page loads and redraws that only run callbacks
UI_TIMEOUT = 60
#: seconds: a simulation, an optimisation or a calibration started from the page
RUN_TIMEOUT = 240
POLL = 0.2
IGNORED = (
    StaleElementReferenceException,
    NoSuchElementException,
    ElementNotInteractableException,
    ElementClickInterceptedException,
    JavascriptException,
)

#: callbacks requested, waiting or running in the Dash renderer (the same query as dash.testing's
#: ``redux_state_rqs``), or the renderer's loading marker is shown
_BUSY_JS = """
    const store = window.store;
    if (!store) { return true; }
    const state = store.getState();
    if (state.isLoading || document.querySelector('._dash-loading-callback')) { return true; }
    const callbacks = Object.assign({}, state.callbacks);
    delete callbacks.stored;
    delete callbacks.completed;
    return Object.values(callbacks).some(list => Array.isArray(list) && list.length > 0);
"""


def wait_until(
    duo, condition: Callable[[Any], Any], timeout: float = UI_TIMEOUT, message: str | Callable[[], str] = ""
) -> Any:
    """Poll ``condition(driver)`` until it returns something truthy and return that; elements that
    go stale or are missing while Dash re-renders only mean "not yet". ``message`` (or a function
    that makes it when the wait fails) says what was awaited."""
    try:
        return WebDriverWait(duo.driver, timeout, poll_frequency=POLL, ignored_exceptions=IGNORED).until(condition)
    except TimeoutException as exc:
        what = message() if callable(message) else message
        raise TimeoutException(f"after {timeout} s: {what or getattr(condition, '__name__', 'condition')}") from exc


def callbacks_busy(duo) -> bool:
    return bool(duo.driver.execute_script(_BUSY_JS))


def wait_for_callbacks(duo, timeout: float = UI_TIMEOUT) -> None:
    """Wait until Dash has no callback pending or running, seen on two polls in a row (a callback
    that returns can request the next one of its chain in the following tick)."""
    idle = [0]

    def settled(_):
        idle[0] = 0 if callbacks_busy(duo) else idle[0] + 1
        return idle[0] >= 2

    wait_until(duo, settled, timeout, "Dash callbacks still running")


def open_page(duo, app, path: str = "", *ready: str, timeout: float = UI_TIMEOUT) -> None:
    """Start ``app``, load ``path`` and wait for the ``ready`` selectors and for the start-up callbacks."""
    duo.start_server(app)
    if path:
        duo.wait_for_page(url=f"{duo.server_url}{path}", timeout=timeout)
    else:
        wait_for_element(duo, "#react-entry-point", timeout)
    for selector in ready:
        wait_for_element(duo, selector, timeout)
    wait_for_callbacks(duo, timeout)


def wait_for_element(duo, selector: str, timeout: float = UI_TIMEOUT, by: str = By.CSS_SELECTOR):
    return wait_until(duo, lambda d: d.find_element(by, selector), timeout, f"no element {selector}")


def read(duo, selector: str, how: Callable = lambda e: e.text, timeout: float = UI_TIMEOUT, by: str = By.CSS_SELECTOR):
    """``how(element)`` of a freshly found element; retried while the element is missing or replaced."""
    out = []

    def attempt(driver):
        out[:] = [how(driver.find_element(by, selector))]
        return True

    wait_until(duo, attempt, timeout, f"cannot read {selector}")
    return out[0]


def text(duo, selector: str, timeout: float = UI_TIMEOUT) -> str:
    """Rendered text of an element (``textContent`` for elements outside the visible area, e.g. folded)."""
    return read(duo, selector, lambda e: e.text or e.get_attribute("textContent") or "", timeout)


def attribute(duo, selector: str, name: str, timeout: float = UI_TIMEOUT, by: str = By.CSS_SELECTOR):
    return read(duo, selector, lambda e: e.get_attribute(name), timeout, by)


def texts(duo, selector: str) -> list[str]:
    """Text of every element matching ``selector`` (white space collapsed to single blanks, as in
    WebElement.text), read in one script, so no element can go stale between finding and reading."""
    return duo.driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0]))"
        ".map(e => e.innerText.replace(/\\s+/g, ' ').trim());",
        selector,
    )


def wait_for_text(
    duo, selector: str, contains: str | None = None, equals: str | None = None, timeout: float = UI_TIMEOUT
) -> str:
    """Wait until the element's text contains / equals the given text, and return the text."""

    def matches(driver):
        element = driver.find_element(By.CSS_SELECTOR, selector)
        shown = element.text or element.get_attribute("textContent") or ""
        ok = (contains is None or contains in shown) and (equals is None or shown.strip() == equals)
        return shown if ok else None

    want = f"contain {contains!r}" if contains is not None else f"equal {equals!r}"
    return wait_until(duo, matches, timeout, lambda: f"{selector} does not {want} (shows {_shown(duo, selector)!r})")


def _shown(duo, selector):
    try:
        return duo.driver.execute_script(
            "const e = document.querySelector(arguments[0]); return e ? e.innerText : null;", selector
        )
    except Exception:  # only for the failure message
        return None


def wait_for_js(duo, script: str, accept: Callable[[Any], bool] = bool, timeout: float = UI_TIMEOUT, message: str = ""):
    """Wait until ``accept(value)`` for the value the script returns (e.g. a Plotly figure that is
    redrawn after the callback that set it), and return the value."""
    seen = []

    def ok(driver):
        seen[:] = [driver.execute_script(script)]
        return accept(seen[0])

    try:
        wait_until(duo, ok, timeout, message or script)
    except TimeoutException as exc:
        raise TimeoutException(f"{exc.msg}; last value {seen[0] if seen else None!r}") from None
    return seen[0]


def plotted(
    duo,
    graph_id: str,
    expression: str,
    accept: Callable[[Any], bool] = lambda v: v is not None,
    timeout: float = UI_TIMEOUT,
):
    """``expression`` over the Plotly graph element ``g`` of ``#graph_id``, once it is drawn and accepted."""
    script = (
        f"const g = document.querySelector('#{graph_id} .js-plotly-plot');"
        f" if (!g || !g.data) {{ return null; }} return {expression};"
    )
    return wait_for_js(duo, script, accept, timeout, f"graph {graph_id}: {expression}")


def click(duo, selector: str, timeout: float = UI_TIMEOUT, by: str = By.CSS_SELECTOR) -> None:
    """Scroll an enabled element into view and click it, finding it again if it is replaced meanwhile."""

    def attempt(driver):
        element = driver.find_element(by, selector)
        if not element.is_enabled():
            return False
        driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", element)
        element.click()
        return True

    wait_until(duo, attempt, timeout, f"cannot click {selector}")


def type_into(
    duo, selector: str, value, by: str = By.CSS_SELECTOR, tab: bool = True, timeout: float = UI_TIMEOUT
) -> None:
    """Replace the value of an input box and leave it (debounced boxes send their value on blur);
    retried until the box really shows the new value."""
    wanted = str(value)

    def attempt(driver):
        box = driver.find_element(by, selector)
        driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", box)
        box.send_keys(Keys.CONTROL, "a")
        box.send_keys(Keys.DELETE)
        if wanted:
            box.send_keys(wanted)
        if tab:
            box.send_keys(Keys.TAB)
        return driver.find_element(by, selector).get_attribute("value") == wanted

    wait_until(duo, attempt, timeout, f"cannot type {wanted!r} into {selector}")


def choose(duo, selector: str, label: str | None = None, index: int | None = None, timeout: float = UI_TIMEOUT) -> str:
    """Pick an option of a dcc.Dropdown by its label or index, waiting for the option to be offered
    (options are often filled in by a callback) and for the dropdown to show it; returns the label."""
    picked = []

    def attempt(driver):
        if not driver.find_elements(By.CSS_SELECTOR, ".dash-dropdown-options"):
            box = driver.find_element(By.CSS_SELECTOR, selector)
            driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", box)
            box.click()
            return False  # the menu opens: look at it on the next poll
        options = driver.find_elements(By.CSS_SELECTOR, ".dash-dropdown-options .dash-dropdown-option")
        if index is not None:
            target = options[index] if index < len(options) else None
        else:
            target = next((o for o in options if o.text == label), None)
        if target is None:
            return False
        picked[:] = [target.text]
        target.click()
        return True

    wait_until(duo, attempt, timeout, f"{selector}: no option {label if index is None else index!r}")
    wait_for_text(duo, selector, contains=picked[0], timeout=timeout)
    close_menus(duo)
    return picked[0]


def close_menus(duo) -> None:
    """Close an open dropdown menu (Escape) so that it does not cover the next element."""
    if duo.driver.find_elements(By.CSS_SELECTOR, ".dash-dropdown-options"):
        duo.driver.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)
        wait_until(
            duo,
            lambda d: not d.find_elements(By.CSS_SELECTOR, ".dash-dropdown-options"),
            message="dropdown menu stays open",
        )


def watch(duo, name: str, condition_js: str) -> None:
    """Record whether ``condition_js`` (a JS expression) becomes true at any DOM change from now on,
    so that a short state such as a disabled button during a run is seen however fast or slow the
    run is. Read it with :func:`wait_seen`."""
    duo.driver.execute_script(
        """
        const name = arguments[0], check = new Function('return (' + arguments[1] + ');');
        window.__bptSeen = window.__bptSeen || {};
        window.__bptSeen[name] = false;
        const test = () => { try { if (check()) { window.__bptSeen[name] = true; } } catch (e) {} };
        test();
        new MutationObserver(test).observe(document.body, {attributes: true, childList: true, subtree: true});
    """,
        name,
        condition_js,
    )


def wait_seen(duo, name: str, timeout: float = UI_TIMEOUT) -> None:
    wait_for_js(
        duo,
        f"return Boolean(window.__bptSeen && window.__bptSeen[{name!r}]);",
        timeout=timeout,
        message=f"never saw {name}",
    )


def press_and_wait(duo, button: str, running_js: str, timeout: float = RUN_TIMEOUT) -> None:
    """Click ``button`` and wait for the work it starts: ``running_js`` (e.g. the button disabled and a
    progress bar shown) must be seen true at some DOM change and then be false again, and Dash must
    have finished the callbacks that show the result."""
    name = f"running {button}"
    watch(duo, name, running_js)
    click(duo, button)
    wait_seen(duo, name, timeout)
    wait_for_js(duo, f"return !({running_js});", timeout=timeout, message=f"{button}: the work does not finish")
    wait_for_callbacks(duo, timeout)


def attributes(duo, selector: str, name: str) -> list:
    """Attribute ``name`` of every element matching ``selector``, read in one script."""
    return duo.driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0])).map(e => e.getAttribute(arguments[1]));",
        selector,
        name,
    )


def send_keys(duo, selector: str, keys: str, timeout: float = UI_TIMEOUT) -> None:
    """Send keys (e.g. a file path to an upload's file input) to a freshly found element."""

    def attempt(driver):
        driver.find_element(By.CSS_SELECTOR, selector).send_keys(keys)
        return True

    wait_until(duo, attempt, timeout, f"cannot send keys to {selector}")


def wait_for_class(duo, selector: str, name: str, present: bool = True, timeout: float = UI_TIMEOUT) -> None:
    """Wait until the element has (or, with ``present=False``, no longer has) the CSS class ``name``."""

    def matches(driver):
        classes = (driver.find_element(By.CSS_SELECTOR, selector).get_attribute("class") or "").split()
        return (name in classes) == present

    wait_until(
        duo,
        matches,
        timeout,
        lambda: (
            f"{selector} {'lacks' if present else 'keeps'} class {name!r} "
            f"(has {attribute(duo, selector, 'class', timeout=5)!r})"
        ),
    )


def displayed(duo, selector: str) -> bool:
    """Whether an element is rendered visibly (False when it is missing or hidden by CSS)."""
    return bool(
        duo.driver.execute_script(
            "const e = document.querySelector(arguments[0]);"
            " return !!e && e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden';",
            selector,
        )
    )
