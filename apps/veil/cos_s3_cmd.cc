#include "cos_s3_cmd.h"

#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "command.h"
#include "common/encoding.h"
#include "cos/xml.h"
#include "cos_cmd.h"
#include "crypto/hash.h"
#include "http/client.h"

namespace veil::cli {
namespace {

namespace json = boost::json;

constexpr int kMaxPages = 100000;
constexpr size_t kHeldBytes = 64 << 10;

struct S3Request {
  std::string method = "GET";
  std::string bucket = {};
  std::string key = {};
  std::string query = {};  // without '?', already encoded
  std::vector<std::pair<std::string, std::string>> headers = {};
  std::string body = {};
  http::BodySource source = {};
  std::optional<uint64_t> length = {};
};

// One logged-in connection to the object storage.
class S3Client {
 public:
  [[nodiscard]] static Result<std::unique_ptr<S3Client>> Open(const GlobalOptions& g) {
    ApiClient api(g);
    auto c = std::unique_ptr<S3Client>(new S3Client);
    c->url_ = VEIL_TRY_VALUE(ServiceUrlByName(g, "cos"));
    c->token_ = VEIL_TRY_VALUE(api.CurrentSession()).access_token;
    http::ClientOptions options;
    options.request_timeout = std::chrono::milliseconds(g.timeout_ms);
    c->http_ = std::make_unique<http::HttpClient>(options);
    return c;
  }
  void set_instance(std::string guid) { instance_ = std::move(guid); }

  // Sends `r`; an S3 error status becomes S3ErrorOf. With a sink, a 2xx body streams into it.
  [[nodiscard]] Result<http::ClientResponse> Send(const S3Request& r,
                                                  const http::BodySink* sink = nullptr) {
    http::ClientRequest req;
    req.method = r.method;
    req.url = url_ + "/" + r.bucket;
    if (!r.key.empty()) req.url += "/" + S3PathEncode(r.key);
    if (!r.query.empty()) req.url += "?" + r.query;
    req.headers.Set("Authorization", "Bearer " + token_);
    if (!instance_.empty()) req.headers.Set("ibm-service-instance-id", instance_);
    for (const auto& [name, value] : r.headers) req.headers.Set(name, value);
    req.body = r.body;
    req.body_source = r.source;
    req.body_length = r.length;
    // The first bytes are held back until the status is known: an error's XML is not data.
    std::string head;
    bool flowing = false;
    http::BodySink held = [&](std::span<const char> chunk) -> Status {
      if (flowing) return (*sink)(chunk);
      head.append(chunk.data(), chunk.size());
      if (head.size() < kHeldBytes) return OkStatus();
      flowing = true;
      return (*sink)(head);
    };
    Result<http::ClientResponse> response =
        sink != nullptr ? http_->Send(req, held) : http_->Send(req);
    if (!response) return tl::unexpected(response.error().Wrap(r.method + " " + req.url));
    if (response->status < 200 || response->status > 299) {
      return tl::unexpected(S3ErrorOf(response->status, sink != nullptr ? head : response->body));
    }
    if (sink != nullptr && !flowing && !head.empty()) VEIL_TRY((*sink)(head));
    return response;
  }

 private:
  S3Client() = default;
  std::string url_;
  std::string token_;
  std::string instance_;
  std::unique_ptr<http::HttpClient> http_;
};

std::string TextOf(const cos::XmlElement& e, std::string_view child) {
  const cos::XmlElement* c = e.Child(child);
  return c != nullptr ? c->text : "";
}

std::string Unquote(std::string_view etag) {
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
    etag = etag.substr(1, etag.size() - 2);
  }
  return std::string(etag);
}

// The instance: the one given, else the account's only cloud-object-storage instance.
Result<std::string> InstanceOrDefault(const GlobalOptions& g, const std::string& given) {
  ApiClient api(g);
  if (!given.empty()) return ResolveCosInstance(api, given);
  json::value body = VEIL_TRY_VALUE(
      api.Call({"iam", "GET", "/v2/resource_instances?pagesize=2&resource_id=cloud-object-storage",
                std::nullopt}));
  const json::value* items = body.is_object() ? body.as_object().if_contains("resources") : nullptr;
  if (items == nullptr || !items->is_array()) return DataLoss("the response has no resources list");
  if (items->as_array().size() != 1) {
    return InvalidArgument("--instance is needed: the account has " +
                           std::string(items->as_array().empty() ? "no" : "several") +
                           " cloud-object-storage instances");
  }
  return Str(items->as_array().front(), "guid");
}

Result<S3Url> NeedS3Url(const std::string& text, bool need_key) {
  std::optional<S3Url> url = ParseS3Url(text);
  if (!url || url->bucket.empty() || (need_key && url->key.empty())) {
    return InvalidArgument("'" + text + "' is not an s3://BUCKET" +
                           (need_key ? "/KEY" : "[/PREFIX]") + " URL");
  }
  return *url;
}

// ---- buckets ----

struct BucketArgs {
  std::string name;
  std::string instance;
  std::string kms_key;
  std::string location;
};

Status CreateBucket(const GlobalOptions& g, const BucketArgs& a) {
  const std::string guid = VEIL_TRY_VALUE(InstanceOrDefault(g, a.instance));
  auto s3 = VEIL_TRY_VALUE(S3Client::Open(g));
  s3->set_instance(guid);
  S3Request r{"PUT", a.name};
  if (!a.kms_key.empty()) {
    r.headers.emplace_back("ibm-sse-kp-encryption-algorithm", "AES256");
    r.headers.emplace_back("ibm-sse-kp-customer-root-key-crn", a.kms_key);
  }
  if (!a.location.empty()) {
    r.body = cos::XmlWriter()
                 .Open("CreateBucketConfiguration", "http://s3.amazonaws.com/doc/2006-03-01/")
                 .Element("LocationConstraint", a.location)
                 .Close()
                 .Finish();
  }
  VEIL_TRY(s3->Send(r));
  json::object out{{"name", a.name}, {"instance", guid}, {"sse_kp", !a.kms_key.empty()}};
  if (!a.kms_key.empty()) out["root_key_crn"] = a.kms_key;
  PrintFields(g, out,
              {{"Bucket", a.name},
               {"Instance", guid},
               {"SSE-KP", a.kms_key.empty() ? std::string("no") : a.kms_key}});
  return OkStatus();
}

Status ListBuckets(const GlobalOptions& g, const std::string& instance) {
  const std::string guid = VEIL_TRY_VALUE(InstanceOrDefault(g, instance));
  auto s3 = VEIL_TRY_VALUE(S3Client::Open(g));
  s3->set_instance(guid);
  S3Request r{"GET", ""};
  http::ClientResponse response = VEIL_TRY_VALUE(s3->Send(r));
  cos::XmlElement doc = VEIL_TRY_VALUE(cos::ParseXml(response.body));
  json::array all;
  std::vector<std::vector<std::string>> rows;
  if (const cos::XmlElement* buckets = doc.Child("Buckets")) {
    for (const cos::XmlElement* b : buckets->Children("Bucket")) {
      all.push_back(
          json::object{{"name", TextOf(*b, "Name")}, {"created", TextOf(*b, "CreationDate")}});
      rows.push_back({TextOf(*b, "Name"), TextOf(*b, "CreationDate")});
    }
  }
  PrintTable(g, json::object{{"instance", guid}, {"buckets", all}}, {"name", "created"}, rows);
  return OkStatus();
}

Status HeadBucket(const GlobalOptions& g, const std::string& name) {
  auto s3 = VEIL_TRY_VALUE(S3Client::Open(g));
  S3Request r{"HEAD", name};
  http::ClientResponse response = VEIL_TRY_VALUE(s3->Send(r));
  std::string enabled(response.headers.Get("ibm-sse-kp-enabled").value_or("false"));
  for (char& c : enabled) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const std::string crk(response.headers.Get("ibm-sse-kp-crk-id").value_or(""));
  json::object out{{"name", name}, {"sse_kp_enabled", enabled == "true"}};
  if (!crk.empty()) out["sse_kp_crk_id"] = crk;
  PrintFields(g, out,
              {{"Bucket", name}, {"SSE-KP", enabled}, {"Root key", crk.empty() ? "-" : crk}});
  return OkStatus();
}

Status DeleteBucket(const GlobalOptions& g, const std::string& name) {
  auto s3 = VEIL_TRY_VALUE(S3Client::Open(g));
  S3Request r{"DELETE", name};
  VEIL_TRY(s3->Send(r));
  if (g.output == "json") {
    std::cout << json::serialize(json::object{{"name", name}, {"deleted", true}}) << "\n";
  } else {
    std::cout << "Deleted bucket " << name << "\n";
  }
  return OkStatus();
}

void RegisterBuckets(CLI::App& cos, const GlobalOptions& g, int& rc) {
  auto a = std::make_shared<BucketArgs>();
  auto run = [&rc](std::function<Status()> f) { return CommandRunner(rc, std::move(f)); };
  CLI::App* bucket = Group(cos, "bucket", "Buckets of an object storage instance",
                           "veil cos bucket create my-bucket --instance my-cos");
  CLI::App* c = Command(*bucket, "create",
                        "Create a bucket; with --kms-key its objects are encrypted under that "
                        "root key (SSE-KP)",
                        "veil cos bucket create my-bucket --instance my-cos --kms-key "
                        "crn:v1:veil:public:kms:local:a/...:key:...");
  c->add_option("NAME", a->name, "The bucket's name (S3's naming rules)")->required();
  c->add_option("--instance", a->instance,
                "The cloud-object-storage instance, GUID or name (default: the only one)");
  c->add_option("--kms-key", a->kms_key, "The CRN of a KMS root key: the bucket is SSE-KP");
  c->add_option("--location", a->location, "The location constraint (local-standard, ...)");
  c->callback(run([&g, a] { return CreateBucket(g, *a); }));
  c = Command(*bucket, "list", "List the buckets of an instance",
              "veil cos bucket list --instance my-cos");
  c->add_option("--instance", a->instance, "GUID or name (default: the only one)");
  c->callback(run([&g, a] { return ListBuckets(g, a->instance); }));
  c = Command(*bucket, "head", "Show a bucket and whether it is SSE-KP, under which root key",
              "veil cos bucket head my-bucket");
  c->add_option("NAME", a->name, "The bucket")->required();
  c->callback(run([&g, a] { return HeadBucket(g, a->name); }));
  c = Command(*bucket, "delete", "Delete an empty bucket", "veil cos bucket delete my-bucket");
  c->add_option("NAME", a->name, "The bucket")->required();
  c->callback(run([&g, a] { return DeleteBucket(g, a->name); }));
}

// ---- multipart ----

struct UploadOptions {
  std::string threshold = "64MiB";
  std::string part_size = "16MiB";
  int parallel = 4;
};

// "6MiB", "512KiB", "1GiB", "1048576": a byte count.
Result<uint64_t> ParseSize(const std::string& text) {
  size_t used = 0;
  uint64_t n = 0;
  try {
    n = std::stoull(text, &used);
  } catch (...) {
    return InvalidArgument("'" + text + "' is not a size (e.g. 16MiB)");
  }
  const std::string unit = text.substr(used);
  if (unit.empty() || unit == "B") return n;
  if (unit == "KiB") return n << 10;
  if (unit == "MiB") return n << 20;
  if (unit == "GiB") return n << 30;
  return InvalidArgument("'" + text + "' is not a size (units B, KiB, MiB, GiB)");
}

// Bytes, percent and MB/s on stderr, only when stderr is a terminal.
class Progress {
 public:
  explicit Progress(uint64_t total) : total_(total), tty_(isatty(STDERR_FILENO) != 0) {}
  void Add(uint64_t n) {
    const uint64_t done = done_ += n;
    if (!tty_) return;
    std::lock_guard lock(mu_);
    const double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    std::fprintf(stderr, "\r%llu/%llu bytes %3d%% %.1f MB/s", static_cast<unsigned long long>(done),
                 static_cast<unsigned long long>(total_),
                 total_ == 0 ? 100 : static_cast<int>(done * 100 / total_),
                 s > 0 ? static_cast<double>(done) / 1e6 / s : 0.0);
  }
  ~Progress() {
    if (tty_) std::fputs("\n", stderr);
  }

 private:
  uint64_t total_;
  bool tty_;
  std::atomic<uint64_t> done_{0};
  std::mutex mu_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

struct Multipart {
  std::string path;
  S3Url to;
  std::string upload_id;
  uint64_t size = 0;
  uint64_t part_size = 0;
  size_t parts = 0;
  std::vector<std::string> etags;
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex mu;
  std::optional<Error> error;
};

// One thread's share: takes the next part number, reads that part and uploads it.
void UploadParts(Multipart& m, S3Client& s3, Progress& progress) {
  std::ifstream in(m.path, std::ios::binary);
  std::string buffer;
  for (size_t i = m.next++; i < m.parts && !m.failed; i = m.next++) {
    const uint64_t offset = i * m.part_size;
    buffer.resize(std::min<uint64_t>(m.part_size, m.size - offset));
    in.seekg(static_cast<std::streamoff>(offset));
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    Result<http::ClientResponse> response = DataLoss("reading " + m.path + " failed");
    if (in) {
      S3Request r{"PUT", m.to.bucket, m.to.key,
                  "partNumber=" + std::to_string(i + 1) + "&uploadId=" + FormEncode(m.upload_id)};
      r.body = std::move(buffer);
      response = s3.Send(r);
      buffer = std::move(r.body);
    }
    if (!response) {
      std::lock_guard lock(m.mu);
      if (!m.error) m.error = response.error();
      m.failed = true;
      return;
    }
    m.etags[i] = std::string(response->headers.Get("ETag").value_or(""));
    progress.Add(buffer.size());
  }
}

std::string CompleteXml(const Multipart& m) {
  cos::XmlWriter xml;
  xml.Open("CompleteMultipartUpload", "http://s3.amazonaws.com/doc/2006-03-01/");
  for (size_t i = 0; i < m.parts; ++i) {
    xml.Open("Part").Element("PartNumber", std::to_string(i + 1)).Element("ETag", m.etags[i]);
    xml.Close();
  }
  return xml.Close().Finish();
}

// Uploads in parts by `parallel` threads, each with its own connection; aborts on failure.
Result<std::string> PutMultipart(const GlobalOptions& g, Multipart& m, const std::string& kms_key,
                                 int parallel) {
  auto s3 = VEIL_TRY_VALUE(S3Client::Open(g));
  S3Request init{"POST", m.to.bucket, m.to.key, "uploads="};
  if (!kms_key.empty()) {
    init.headers.emplace_back("x-amz-server-side-encryption", "aws:kms");
    init.headers.emplace_back("x-amz-server-side-encryption-aws-kms-key-id", kms_key);
  }
  http::ClientResponse started = VEIL_TRY_VALUE(s3->Send(init));
  m.upload_id = TextOf(VEIL_TRY_VALUE(cos::ParseXml(started.body)), "UploadId");
  if (m.upload_id.empty()) return DataLoss("the service gave no UploadId");
  m.parts = static_cast<size_t>((m.size + m.part_size - 1) / m.part_size);
  m.etags.resize(m.parts);
  std::vector<std::unique_ptr<S3Client>> clients;
  for (int t = 0; t < parallel; ++t) clients.push_back(VEIL_TRY_VALUE(S3Client::Open(g)));
  {
    Progress progress(m.size);
    std::vector<std::thread> threads;
    for (auto& c : clients) {
      threads.emplace_back([&m, &c, &progress] { UploadParts(m, *c, progress); });
    }
    for (std::thread& t : threads) t.join();
  }
  const std::string query = "uploadId=" + FormEncode(m.upload_id);
  Result<http::ClientResponse> done = http::ClientResponse{};
  if (m.error) {
    done = tl::unexpected(*m.error);
  } else {
    S3Request complete{"POST", m.to.bucket, m.to.key, query};
    complete.body = CompleteXml(m);
    done = s3->Send(complete);
  }
  if (!done) {
    S3Request abort{"DELETE", m.to.bucket, m.to.key, query};
    (void)s3->Send(abort);
    return tl::unexpected(done.error());
  }
  return Unquote(TextOf(VEIL_TRY_VALUE(cos::ParseXml(done->body)), "ETag"));
}

// ---- objects ----

struct ObjectArgs {
  std::string src;
  std::string dst;
  std::string kms_key;
  UploadOptions upload;
};

// Uploads `path` as one PUT, streamed, checking the ETag against the file's MD5.
Result<std::string> PutSingle(const GlobalOptions& g, const std::string& path, uint64_t size,
                              const S3Url& to, const std::string& kms_key) {
  auto in = std::make_shared<std::ifstream>(path, std::ios::binary);
  if (!*in) return InvalidArgument("cannot open " + path);
  auto s3 = VEIL_TRY_VALUE(S3Client::Open(g));
  auto md5 = std::make_shared<crypto::Md5Hasher>();
  auto progress = std::make_shared<Progress>(size);
  S3Request r{"PUT", to.bucket, to.key};
  if (!kms_key.empty()) {
    r.headers.emplace_back("x-amz-server-side-encryption", "aws:kms");
    r.headers.emplace_back("x-amz-server-side-encryption-aws-kms-key-id", kms_key);
  }
  r.length = size;
  r.source = [in, md5, progress](std::span<char> out) -> Result<size_t> {
    in->read(out.data(), static_cast<std::streamsize>(out.size()));
    const auto n = static_cast<size_t>(in->gcount());
    if (n == 0 && in->bad()) return DataLoss("reading the file failed");
    md5->Update({reinterpret_cast<const uint8_t*>(out.data()), n});
    progress->Add(n);
    return n;
  };
  http::ClientResponse response = VEIL_TRY_VALUE(s3->Send(r));
  const std::string etag = Unquote(response.headers.Get("ETag").value_or(""));
  const std::string local = HexEncode(md5->Finish());
  if (etag.find('-') == std::string::npos && etag != local) {
    return DataLoss("the stored object's ETag " + etag + " is not the file's MD5 " + local);
  }
  return etag;
}

// Uploads `path`: one PUT up to the threshold, a parallel multipart upload above it.
Status PutFile(const GlobalOptions& g, const std::string& path, const S3Url& to,
               const std::string& kms_key, const UploadOptions& u) {
  const uint64_t threshold = VEIL_TRY_VALUE(ParseSize(u.threshold));
  const uint64_t part_size = VEIL_TRY_VALUE(ParseSize(u.part_size));
  if (part_size < (5u << 20)) return InvalidArgument("--part-size must be at least 5MiB");
  if (u.parallel < 1 || u.parallel > 64) return InvalidArgument("--parallel must be 1 to 64");
  std::error_code ec;
  const uint64_t size = std::filesystem::file_size(path, ec);
  if (ec) return InvalidArgument("cannot read " + path + ": " + ec.message());
  std::string etag;
  if (size > threshold) {
    Multipart m;
    m.path = path;
    m.to = to;
    m.size = size;
    m.part_size = part_size;
    etag = VEIL_TRY_VALUE(PutMultipart(g, m, kms_key, u.parallel));
  } else {
    etag = VEIL_TRY_VALUE(PutSingle(g, path, size, to, kms_key));
  }
  json::object out{{"bucket", to.bucket}, {"key", to.key}, {"size", size}, {"etag", etag}};
  if (!kms_key.empty()) out["kms_key"] = kms_key;
  if (g.output == "json") {
    std::cout << json::serialize(out) << "\n";
  } else {
    std::cout << "Uploaded " << path << " to s3://" << to.bucket << "/" << to.key << " (" << size
              << " bytes, ETag " << etag << ")\n";
  }
  return OkStatus();
}

// Downloads an object into `path` (a temporary file renamed at the end) or stdout ("-").
Status GetFile(const GlobalOptions& g, const S3Url& from, const std::string& path) {
  auto s3 = VEIL_TRY_VALUE(S3Client::Open(g));
  const bool to_stdout = path == "-";
  const std::string tmp = path + ".veil-part";
  std::ofstream file;
  if (!to_stdout) {
    file.open(tmp, std::ios::binary | std::ios::trunc);
    if (!file) return InvalidArgument("cannot write " + tmp);
  }
  std::ostream& out = to_stdout ? std::cout : file;
  http::BodySink sink = [&out](std::span<const char> chunk) -> Status {
    out.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    return out ? OkStatus() : DataLoss("writing the file failed");
  };
  S3Request r{"GET", from.bucket, from.key};
  Result<http::ClientResponse> response = s3->Send(r, &sink);
  if (!to_stdout) file.close();
  if (!response || (!to_stdout && !file)) {
    if (!to_stdout) std::remove(tmp.c_str());
    if (!response) return tl::unexpected(response.error());
    return DataLoss("writing " + path + " failed");
  }
  if (to_stdout) return OkStatus();
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return DataLoss("cannot rename " + tmp + ": " + ec.message());
  std::cerr << "Downloaded s3://" << from.bucket << "/" << from.key << " to " << path << "\n";
  return OkStatus();
}

Status CopyObject(const GlobalOptions& g, const S3Url& from, const S3Url& to) {
  auto s3 = VEIL_TRY_VALUE(S3Client::Open(g));
  S3Request r{"PUT", to.bucket, to.key};
  r.headers.emplace_back("x-amz-copy-source", "/" + from.bucket + "/" + S3PathEncode(from.key));
  VEIL_TRY(s3->Send(r));
  std::cout << "Copied s3://" << from.bucket << "/" << from.key << " to s3://" << to.bucket << "/"
            << to.key << "\n";
  return OkStatus();
}

Status Copy(const GlobalOptions& g, const ObjectArgs& a) {
  std::optional<S3Url> src = ParseS3Url(a.src);
  std::optional<S3Url> dst = ParseS3Url(a.dst);
  if (!src && !dst) return InvalidArgument("cp needs an s3:// URL as its source or destination");
  if (src) src = VEIL_TRY_VALUE(NeedS3Url(a.src, true));
  if (dst) {
    dst = VEIL_TRY_VALUE(NeedS3Url(a.dst, false));
    if (dst->key.empty() || dst->key.ends_with('/')) {
      const std::string& name = src ? src->key : a.src;
      dst->key += std::filesystem::path(name).filename().string();
    }
  }
  if (src && dst) return CopyObject(g, *src, *dst);
  if (dst) return PutFile(g, a.src, *dst, a.kms_key, a.upload);
  return GetFile(g, *src, a.dst);
}

Status ListObjects(const GlobalOptions& g, const std::string& url) {
  const S3Url at = VEIL_TRY_VALUE(NeedS3Url(url, false));
  auto s3 = VEIL_TRY_VALUE(S3Client::Open(g));
  json::array prefixes;
  json::array objects;
  std::vector<std::vector<std::string>> rows;
  std::string token;
  for (int page = 0; page < kMaxPages; ++page) {
    S3Request r{"GET", at.bucket, "", "list-type=2&delimiter=%2F&prefix=" + FormEncode(at.key)};
    if (!token.empty()) r.query += "&continuation-token=" + FormEncode(token);
    http::ClientResponse response = VEIL_TRY_VALUE(s3->Send(r));
    cos::XmlElement doc = VEIL_TRY_VALUE(cos::ParseXml(response.body));
    for (const cos::XmlElement* p : doc.Children("CommonPrefixes")) {
      prefixes.push_back(json::string(TextOf(*p, "Prefix")));
      rows.push_back({"PRE", TextOf(*p, "Prefix"), "", ""});
    }
    for (const cos::XmlElement* o : doc.Children("Contents")) {
      const std::string etag = Unquote(TextOf(*o, "ETag"));
      objects.push_back(json::object{{"key", TextOf(*o, "Key")},
                                     {"size", std::stoull("0" + TextOf(*o, "Size"))},
                                     {"last_modified", TextOf(*o, "LastModified")},
                                     {"etag", etag}});
      rows.push_back({"", TextOf(*o, "Key"), TextOf(*o, "Size"), TextOf(*o, "LastModified")});
    }
    token = TextOf(doc, "NextContinuationToken");
    if (TextOf(doc, "IsTruncated") != "true" || token.empty()) break;
  }
  PrintTable(g, json::object{{"bucket", at.bucket}, {"prefixes", prefixes}, {"objects", objects}},
             {"", "key", "size", "last_modified"}, rows);
  return OkStatus();
}

Status RemoveObject(const GlobalOptions& g, const std::string& url) {
  const S3Url at = VEIL_TRY_VALUE(NeedS3Url(url, true));
  auto s3 = VEIL_TRY_VALUE(S3Client::Open(g));
  S3Request r{"DELETE", at.bucket, at.key};
  VEIL_TRY(s3->Send(r));
  std::cout << "Deleted s3://" << at.bucket << "/" << at.key << "\n";
  return OkStatus();
}

void AddUploadOptions(CLI::App& c, UploadOptions& u) {
  c.add_option("--multipart-threshold", u.threshold,
               "Files above this size are uploaded in parts (default 64MiB)");
  c.add_option("--part-size", u.part_size, "The size of a part (default 16MiB, at least 5MiB)");
  c.add_option("--parallel", u.parallel, "Parts uploaded at once, each on its connection (4)");
}

void RegisterObjects(CLI::App& cos, const GlobalOptions& g, int& rc) {
  auto a = std::make_shared<ObjectArgs>();
  auto run = [&rc](std::function<Status()> f) { return CommandRunner(rc, std::move(f)); };
  CLI::App* c = Command(cos, "put", "Upload a file as an object",
                        "veil cos put disk.img s3://my-bucket/images/disk.img");
  c->add_option("FILE", a->src, "The local file")->required();
  c->add_option("URL", a->dst, "s3://BUCKET/KEY")->required();
  c->add_option("--kms-key", a->kms_key, "Encrypt the object under this root key (aws:kms)");
  AddUploadOptions(*c, a->upload);
  c->callback(run([&g, a]() -> Status {
    const S3Url to = VEIL_TRY_VALUE(NeedS3Url(a->dst, true));
    return PutFile(g, a->src, to, a->kms_key, a->upload);
  }));
  c = Command(cos, "get", "Download an object into a file, or to standard output with '-'",
              "veil cos get s3://my-bucket/images/disk.img disk.img");
  c->add_option("URL", a->src, "s3://BUCKET/KEY")->required();
  c->add_option("FILE", a->dst, "The local file, or - for standard output")->required();
  c->callback(run([&g, a]() -> Status {
    const S3Url from = VEIL_TRY_VALUE(NeedS3Url(a->src, true));
    return GetFile(g, from, a->dst);
  }));
  c = Command(cos, "ls", "List the objects and common prefixes under a prefix",
              "veil cos ls s3://my-bucket/images/");
  c->add_option("URL", a->src, "s3://BUCKET[/PREFIX]")->required();
  c->callback(run([&g, a] { return ListObjects(g, a->src); }));
  c = Command(cos, "rm", "Delete an object", "veil cos rm s3://my-bucket/images/disk.img");
  c->add_option("URL", a->src, "s3://BUCKET/KEY")->required();
  c->callback(run([&g, a] { return RemoveObject(g, a->src); }));
  c = Command(cos, "cp", "Copy a file to an object, an object to a file, or an object to another",
              "veil cos cp s3://my-bucket/disk.img s3://backup/disk.img");
  c->add_option("SRC", a->src, "A local file or s3://BUCKET/KEY")->required();
  c->add_option("DST", a->dst, "A local file or s3://BUCKET[/KEY]")->required();
  c->add_option("--kms-key", a->kms_key, "For an upload: encrypt under this root key (aws:kms)");
  AddUploadOptions(*c, a->upload);
  c->callback(run([&g, a] { return Copy(g, *a); }));
}

}  // namespace

std::optional<S3Url> ParseS3Url(std::string_view text) {
  constexpr std::string_view kScheme = "s3://";
  if (!text.starts_with(kScheme)) return std::nullopt;
  text.remove_prefix(kScheme.size());
  const size_t slash = text.find('/');
  if (slash == std::string_view::npos) return S3Url{std::string(text), ""};
  return S3Url{std::string(text.substr(0, slash)), std::string(text.substr(slash + 1))};
}

std::string S3PathEncode(std::string_view key) {
  std::string out;
  size_t start = 0;
  while (true) {
    const size_t slash = key.find('/', start);
    out += FormEncode(key.substr(start, slash == std::string_view::npos ? slash : slash - start));
    if (slash == std::string_view::npos) return out;
    out += '/';
    start = slash + 1;
  }
}

Error S3ErrorOf(int status, std::string_view body) {
  http::ClientResponse response;
  response.status = status;
  Error error = ErrorFromResponse(response);
  std::string code = "HTTP " + std::to_string(status);
  std::string message;
  if (auto doc = cos::ParseXml(body); doc && doc->name == "Error") {
    code = TextOf(*doc, "Code");
    message = TextOf(*doc, "Message");
  } else if (status == 404) {
    code = "NotFound";
    message = "not found";
  }
  error.message = "error: " + code + (message.empty() ? "" : ": " + message);
  return error;
}

void RegisterCosS3Commands(CLI::App& cos, const GlobalOptions& g, int& rc) {
  RegisterBuckets(cos, g, rc);
  RegisterObjects(cos, g, rc);
}

}  // namespace veil::cli
