// The web page in a real browser (headless Chromium driven by
// playwright-core): finance logs in and downloads a reconciliation
// workbook (bytes compared with the file), operations re-run a failed run
// and watch it succeed, admin reads the audit trail; a screenshot of each
// page goes to $WEB_ARTIFACTS. Prints "PASS what" / "FAIL what: why"
// lines that tests/integration/test_web_browser.sh turns into TAP.
'use strict';
const fs = require('fs');
const path = require('path');
const { chromium } = require(process.env.WEB_PLAYWRIGHT);

const URL = process.env.WEB_URL;
const ART = process.env.WEB_ARTIFACTS;
const RUN = process.env.WEB_RUN;
const REPORT = process.env.WEB_REPORT;
let failures = 0;

function check(ok, what, why) {
    if (ok) {
        console.log(`PASS ${what}`);
    } else {
        failures++;
        console.log(`FAIL ${what}: ${why || 'no'}`);
    }
}

async function shot(page, name) {
    await page.screenshot({ path: path.join(ART, name), fullPage: true });
}

async function login(page, user, password) {
    await page.fill('#user', user);
    await page.fill('#password', password);
    await Promise.all([page.waitForNavigation(), page.click('form.login button[type=submit]')]);
}

// No page may be wider than the screen: tables scroll inside their box.
async function fits(page) {
    return page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1);
}

async function finance(browser, cspErrors) {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await ctx.newPage();
    page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) cspErrors.push(m.text()); });
    await page.goto(`${URL}/reports`);
    check(page.url().startsWith(`${URL}/login?next=`), 'logged out, the browser lands on the login page', page.url());
    await shot(page, 'login.png');
    await login(page, 'fin', 'fin-pass-1');
    check(page.url() === `${URL}/reports`, 'finance logs in and sees the reports', page.url());
    await shot(page, 'reports.png');
    const link = page.locator('a[href="/reports/2026-01-02/reconciliation_stripe_2026-01-02.xlsx"]');
    check(await link.count() === 1, 'the reconciliation workbook is listed');
    const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
    check(download.suggestedFilename() === 'reconciliation_stripe_2026-01-02.xlsx',
          'the download keeps the workbook\'s name', download.suggestedFilename());
    const got = fs.readFileSync(await download.path());
    const want = fs.readFileSync(REPORT);
    check(Buffer.compare(got, want) === 0, `the downloaded workbook's ${got.length} bytes equal the file's`,
          `${got.length} bytes vs ${want.length}`);
    await page.goto(`${URL}/jobs`);
    check(await page.locator('button', { hasText: 'Re-run' }).count() === 0, 'finance sees jobs but no Re-run button');
    await shot(page, 'jobs-finance.png');
    await Promise.all([page.waitForNavigation(), page.click('header button')]);
    check(page.url().startsWith(`${URL}/login`), 'finance logs out', page.url());
    await ctx.close();
}

async function operations(browser, cspErrors) {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await ctx.newPage();
    page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) cspErrors.push(m.text()); });
    await page.goto(`${URL}/jobs`);
    await login(page, 'op', 'ops-pass-1');
    check(page.url() === `${URL}/jobs`, 'ops logs in and is sent back to the jobs page', page.url());
    const row = page.locator(`#run-${RUN}`);
    check((await row.locator('.state').innerText()) === 'failed', `run ${RUN} shows as failed`);
    await shot(page, 'jobs-ops.png');
    await Promise.all([page.waitForNavigation(), row.locator('button', { hasText: 'Re-run' }).click()]);
    check(page.url().startsWith(`${URL}/runs/${RUN}`), 'Re-run leads to the run page', page.url());
    let state = '';
    for (let i = 0; i < 120 && state !== 'succeeded'; i++) {
        await page.waitForTimeout(500);
        await page.reload();
        state = await page.locator('td .state').innerText();
    }
    check(state === 'succeeded', 'the re-run succeeds (the daemon ran it)', state);
    check(/greeted/.test(await page.locator('pre.log').innerText()), 'its log is on the run page');
    await shot(page, 'run.png');
    await ctx.close();
}

async function admin(browser, cspErrors) {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await ctx.newPage();
    page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) cspErrors.push(m.text()); });
    await page.goto(`${URL}/audit`);
    await login(page, 'adm', 'adm-pass-1');
    const text = await page.locator('main').innerText();
    check(/download/.test(text) && /retry/.test(text), 'admin reads the download and the re-run in the audit trail');
    await shot(page, 'audit.png');
    await ctx.close();
}

async function phone(browser) {
    const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    const page = await ctx.newPage();
    await page.goto(`${URL}/login`);
    await login(page, 'op', 'ops-pass-1');
    check(await fits(page), 'the reports page fits a phone screen');
    await shot(page, 'reports-phone.png');
    await page.goto(`${URL}/jobs`);
    check(await fits(page), 'the jobs page fits a phone screen');
    await shot(page, 'jobs-phone.png');
    await ctx.close();
}

(async () => {
    fs.mkdirSync(ART, { recursive: true });
    const browser = await chromium.launch({
        executablePath: process.env.WEB_CHROMIUM,
        headless: true,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    });
    const cspErrors = [];
    try {
        await finance(browser, cspErrors);
        await operations(browser, cspErrors);
        await admin(browser, cspErrors);
        await phone(browser);
        check(cspErrors.length === 0, 'no Content-Security-Policy violation on any page', cspErrors.join('; '));
    } catch (e) {
        check(false, 'the browser session ran to its end', e.stack || String(e));
    } finally {
        await browser.close();
    }
    process.exit(failures ? 1 : 0);
})();
