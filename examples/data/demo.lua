-- demo.lua - an allocation-heavy Lua program for examples/07_lua.c: every table, string,
-- closure and coroutine below lives in the state's smalloc environment.
-- Usage: 07_lua examples/data/demo.lua [N]   (N: the size of the work, default 20000)

local n = tonumber(arg[1]) or 20000

-- 1. Words: a generated text, counted into a table that grows and rehashes.
local syllables = { "ka", "lo", "mi", "ne", "ru", "sa", "to", "vi" }
local words = {}
for i = 1, n do
  local w = syllables[i % 8 + 1] .. syllables[(i * 7) % 8 + 1]
  if i % 3 == 0 then w = w .. syllables[(i * 5) % 8 + 1] end
  words[i] = w
end
local freq, distinct = {}, 0
for _, w in ipairs(words) do
  if not freq[w] then distinct = distinct + 1 end
  freq[w] = (freq[w] or 0) + 1
end
local sorted = {}
for w, c in pairs(freq) do sorted[#sorted + 1] = { w = w, c = c } end
table.sort(sorted, function(a, b) return a.c > b.c or (a.c == b.c and a.w < b.w) end)
print(string.format("words: %d, distinct %d, most frequent %s (%d), %s (%d)",
  #words, distinct, sorted[1].w, sorted[1].c, sorted[2].w, sorted[2].c))

-- 2. A coroutine pipeline: numbers -> squares of the odd ones -> a running sum.
local function producer(limit)
  return coroutine.wrap(function() for i = 1, limit do coroutine.yield(i) end end)
end
local function filter(source)
  return coroutine.wrap(function()
    for v in source do if v % 2 == 1 then coroutine.yield(v * v) end end
  end)
end
local sum, count = 0, 0
for v in filter(producer(n)) do sum = sum + v; count = count + 1 end
print(string.format("pipeline: %d odd squares, sum %d", count, sum))

-- 3. Closures: a memoizing wrapper, one closure and one cache per call of memo.
local function memo(f)
  local cache = {}
  return function(k)
    local v = cache[k]
    if v == nil then v = f(k); cache[k] = v end
    return v
  end
end
local fib
fib = memo(function(k) if k < 2 then return k end return fib(k - 1) + fib(k - 2) end)
local adders = {}
for i = 1, n // 10 do adders[i] = memo(function(x) return x + i end) end
local acc = 0
for i = 1, #adders do acc = acc + adders[i](i) end
print(string.format("closures: fib(80) = %d, %d memoized adders sum to %d", fib(80), #adders, acc))

-- 4. String building and garbage, under both collector modes.
for _, mode in ipairs({ "incremental", "generational" }) do
  collectgarbage(mode)
  local parts, bytes = {}, 0
  for i = 1, n do
    local s = string.format("%s-%d", string.rep(string.char(65 + i % 26), i % 17), i)
    bytes = bytes + #s
    parts[i % 500 + 1] = s
  end
  local joined = table.concat(parts, "|")
  collectgarbage()
  print(string.format("%s: %d strings, %d bytes made, %d kept; Lua holds %d KiB after a full collection",
    mode, n, bytes, #joined, collectgarbage("count") // 1))
end
