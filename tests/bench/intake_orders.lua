-- wrk script for bench_intake.sh: POST /v1/orders, one realistic order of
-- three lines per request, each with a unique external_ref.
--   wrk -s tests/bench/intake_orders.lua URL -- TOKEN RUN_PREFIX N_PRODUCTS N_BUYERS
local threads = {}
local next_id = 0

function setup(thread)
    thread:set("tid", next_id)
    next_id = next_id + 1
    table.insert(threads, thread)
end

function init(args)
    token = args[1]
    prefix = args[2] or tostring(os.time())
    n_products = tonumber(args[3] or "100")
    n_buyers = tonumber(args[4] or "1000")
    counter = 0
    math.randomseed(tid * 7919 + os.time())
    wrk.method = "POST"
    wrk.path = "/v1/orders"
    wrk.headers["Content-Type"] = "application/json"
    wrk.headers["Authorization"] = "Bearer " .. token
end

local function line(sku_n, qty, price)
    return string.format('{"sku":"SKU-%05d","quantity":%d,"unit_price":"%d.%02d"}',
        sku_n, qty, math.floor(price / 100), price % 100)
end

request = function()
    counter = counter + 1
    local items, lines = 0, {}
    for i = 1, 3 do
        local sku = math.random(1, n_products)
        local qty = math.random(1, 3)
        local price = 500 + (sku * 37) % 5000 -- the catalogue's price of that SKU
        items = items + qty * price
        lines[i] = line(sku, qty, price)
    end
    local shipping = 490
    local total = items + shipping
    local body = string.format(
        '{"external_ref":"%s-%d-%d","currency":"EUR","placed_at":"2025-03-01T10:00:00Z",' ..
        '"buyer":{"external_ref":"buyer-%06d"},"items":[%s],"shipping":"4.90",' ..
        '"total":"%d.%02d"}',
        prefix, tid, counter, math.random(1, n_buyers), table.concat(lines, ","),
        math.floor(total / 100), total % 100)
    return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
    local non2xx = summary.errors.status
    io.write(string.format("WRK requests=%d seconds=%.3f non2xx=%d socket_errors=%d " ..
        "p50_us=%d p99_us=%d\n", summary.requests, summary.duration / 1e6, non2xx,
        summary.errors.connect + summary.errors.read + summary.errors.write +
        summary.errors.timeout, latency:percentile(50), latency:percentile(99)))
end
