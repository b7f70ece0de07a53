-- wrk script for bench/run.sh section 5: POST /api/v2/keys/{id}/actions/$VEIL_BENCH_KMS_ACTION with
-- a bearer token and the bluemix-instance header. "wrap" sends a 32-byte DEK; "unwrap" sends one
-- ciphertext made by a wrap beforehand. Secrets reach wrk through files named in the environment,
-- never on its command line. The request is built once: the script costs wrk nothing per request.
local function slurp(name)
  local path = assert(os.getenv(name), name .. " is not set")
  local f = assert(io.open(path))
  local s = f:read("*l"); f:close()
  return s
end
local action = assert(os.getenv("VEIL_BENCH_KMS_ACTION"), "VEIL_BENCH_KMS_ACTION is not set")
local bodies = {
  wrap = function() return '{"plaintext":"' .. slurp("VEIL_BENCH_KMS_DEK_FILE") .. '"}' end,
  unwrap = function() return '{"ciphertext":"' .. slurp("VEIL_BENCH_KMS_CIPHERTEXT_FILE") .. '"}' end,
}
assert(bodies[action], "VEIL_BENCH_KMS_ACTION must be wrap or unwrap")
wrk.method = "POST"
wrk.path = "/api/v2/keys/" .. assert(os.getenv("VEIL_BENCH_KMS_KEY")) .. "/actions/" .. action
wrk.headers["Authorization"] = "Bearer " .. slurp("VEIL_BENCH_TOKEN_FILE")
wrk.headers["bluemix-instance"] = assert(os.getenv("VEIL_BENCH_KMS_INSTANCE"))
wrk.headers["Content-Type"] = "application/vnd.ibm.kms.key_action+json"
wrk.body = bodies[action]()
