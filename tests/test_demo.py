"""The web demo driven as a person would: headless Chromium uploads a bundled CamVid image and submits.

Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them with apt-get) and the demo's
packages (gradio, selenium: `pip install -e '.[dev]'`). SEGBENCH_DEMO_SCREENSHOT=<png> keeps the screenshot
(`make demo-screenshot` writes docs/results/demo.png so).
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segbench.predict import colour_overlay, predict_image
from segbench.pretrained import load_predictor

gradio = pytest.importorskip("gradio", reason="the demo needs gradio: pip install -e '.[dev]'")
webdriver = pytest.importorskip("selenium.webdriver", reason="the browser test needs selenium: pip install -e '.[dev]'")

CHROMEDRIVER = shutil.which("chromedriver")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    not (CHROMEDRIVER and CHROMIUM), reason="Chromium is not installed: apt-get install chromium chromium-driver"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory):
    from segbench.demo import build_demo, find_models

    port = free_port()
    demo = build_demo(find_models(tmp_path_factory.mktemp("logs")), precision="32-true")
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


@pytest.fixture(scope="module")
def browser():
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1100"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def test_the_page_segments_an_uploaded_camvid_image_as_predict_does(demo_url, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as seen
    from selenium.webdriver.support.ui import WebDriverWait

    from segbench.demo import bundled_images

    image_path = next(path for path in bundled_images() if path.name.startswith("Seq05VD"))
    browser.get(demo_url)
    wait = WebDriverWait(browser, 120)
    upload = wait.until(seen.presence_of_element_located((By.CSS_SELECTOR, "#input-image input[type=file]")))
    upload.send_keys(str(image_path))
    wait.until(seen.presence_of_element_located((By.CSS_SELECTOR, "#input-image img")))
    browser.find_element(By.CSS_SELECTOR, "#segment").click()
    result = wait.until(seen.presence_of_element_located((By.CSS_SELECTOR, "#overlay img")))
    wait.until(
        lambda driver: "ms on 360x480" in driver.find_element(By.CSS_SELECTOR, "#timing textarea").get_property("value")
    )
    legend = browser.find_element(By.CSS_SELECTOR, "#legend-table").text
    screenshot = Path(os.environ.get("SEGBENCH_DEMO_SCREENSHOT") or tmp_path / "demo.png")
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(screenshot))

    with urllib.request.urlopen(result.get_attribute("src")) as response:
        shown = np.asarray(Image.open(io.BytesIO(response.read())).convert("RGB"))
    image = np.asarray(Image.open(image_path).convert("RGB"))
    expected = colour_overlay(image, predict_image(load_predictor(None), image).labels)
    assert shown.shape == (360, 480, 3)
    assert np.array_equal(shown, expected)  # the page shows exactly what predict.py writes for this image
    assert "Road" in legend and "%" in legend
    assert Image.open(screenshot).size[0] > 0
