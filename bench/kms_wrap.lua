-- wrk script for bench/run.sh section 5: POST /api/v2/keys/{id}/actions/wrap with a 32-byte DEK,
-- a bearer token and the bluemix-instance header. Secrets reach wrk through files named in the
-- environment, never on its command line. The request is built once: the script costs wrk nothing
-- per request.
local function slurp(name)
  local path = assert(os.getenv(name), name .. " is not set")
  local f = assert(io.open(path))
  local s = f:read("*l"); f:close()
  return s
end
wrk.method = "POST"
wrk.path = "/api/v2/keys/" .. assert(os.getenv("VEIL_BENCH_KMS_KEY")) .. "/actions/wrap"
wrk.headers["Authorization"] = "Bearer " .. slurp("VEIL_BENCH_TOKEN_FILE")
wrk.headers["bluemix-instance"] = assert(os.getenv("VEIL_BENCH_KMS_INSTANCE"))
wrk.headers["Content-Type"] = "application/vnd.ibm.kms.key_action+json"
wrk.body = '{"plaintext":"' .. slurp("VEIL_BENCH_KMS_DEK_FILE") .. '"}'
