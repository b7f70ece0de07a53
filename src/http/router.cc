#include "http/router.h"

#include <algorithm>
#include <set>
#include <tuple>
#include <utility>

namespace veil::http {

struct Router::Node {
  std::map<std::string, std::unique_ptr<Node>, std::less<>> literals;
  std::unique_ptr<Node> param;
  std::unique_ptr<Node> greedy;        // {name+}: one character or more
  std::unique_ptr<Node> greedy_empty;  // {name*}: possibly empty ("/bucket/" in S3)
  // By method. unique_ptr keeps Route addresses stable for RouteMatch::route.
  std::map<std::string, std::unique_ptr<Route>, std::less<>> routes;
};

Router::Router() : root_(std::make_unique<Node>()) {}
Router::~Router() = default;
Router::Router(Router&&) noexcept = default;
Router& Router::operator=(Router&&) noexcept = default;

namespace {

// Splits "/a/b" into {"a", "b"}; "/" into {}. `path` starts with '/'.
std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> out;
  if (path.size() <= 1) return out;
  size_t start = 1;
  for (;;) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) {
      out.push_back(path.substr(start));
      return out;
    }
    out.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
}

bool ValidParamName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool ValidMethod(std::string_view method) {
  if (method.empty()) return false;
  for (char c : method) {
    if (!((c >= 'A' && c <= 'Z') || c == '-' || c == '_')) return false;
  }
  return true;
}

std::string DecodeOrRaw(std::string_view raw) {
  if (raw.find('%') == std::string_view::npos) return std::string(raw);
  auto decoded = PercentDecode(raw);
  // The server validated the whole target before routing, so this cannot fail there; a direct
  // caller with a malformed escape gets the raw text rather than a match on garbage.
  return decoded ? std::move(*decoded) : std::string(raw);
}

struct Search {
  std::string_view method;
  std::string_view raw_path;
  const Route* found = nullptr;
  std::vector<std::string_view> values;
  std::vector<std::string_view> found_values;
  std::set<std::string, std::less<>> allow;
};

template <typename NodeT>
bool AtTerminal(const NodeT& node, Search& s) {
  if (node.routes.empty()) return false;
  auto it = node.routes.find(s.method);
  if (it == node.routes.end() && s.method == "HEAD") it = node.routes.find("GET");
  if (it != node.routes.end()) {
    s.found = it->second.get();
    s.found_values = s.values;
    return true;
  }
  for (const auto& [m, r] : node.routes) {
    s.allow.insert(m);
    if (m == "GET") s.allow.insert("HEAD");
  }
  return false;
}

template <typename NodeT>
bool Visit(const NodeT& node, const std::vector<std::string_view>& segs, size_t i, Search& s) {
  if (i == segs.size()) return AtTerminal(node, s);
  std::string_view seg = segs[i];
  if (!node.literals.empty()) {
    auto it = seg.find('%') == std::string_view::npos ? node.literals.find(seg)
                                                      : node.literals.find(DecodeOrRaw(seg));
    if (it != node.literals.end() && Visit(*it->second, segs, i + 1, s)) return true;
  }
  if (node.param && !seg.empty()) {
    s.values.push_back(seg);
    if (Visit(*node.param, segs, i + 1, s)) return true;
    s.values.pop_back();
  }
  std::string_view tail(seg.data(),
                        static_cast<size_t>(s.raw_path.data() + s.raw_path.size() - seg.data()));
  for (const auto* greedy : {node.greedy.get(), node.greedy_empty.get()}) {
    if (greedy == nullptr || (tail.empty() && greedy == node.greedy.get())) continue;
    s.values.push_back(tail);
    if (AtTerminal(*greedy, s)) return true;
    s.values.pop_back();
  }
  return false;
}

}  // namespace

Status Router::Add(std::string method, std::string_view path_template, Handler handler,
                   RouteOptions options) {
  if (!ValidMethod(method)) return InvalidArgument("invalid method '" + method + "'");
  if (path_template.empty() || path_template.front() != '/') {
    return InvalidArgument("route template must start with '/'");
  }
  if (!handler) return InvalidArgument("route has no handler");
  if (options.inline_handler && options.authenticated) {
    return InvalidArgument("an inline route must be anonymous (authenticated = false)");
  }
  auto route = std::make_unique<Route>();
  route->method = method;
  route->path_template = std::string(path_template);
  route->handler = std::move(handler);
  route->options = std::move(options);

  Node* node = root_.get();
  auto segs = SplitPath(path_template);
  for (size_t i = 0; i < segs.size(); ++i) {
    std::string_view seg = segs[i];
    if (seg.empty()) return InvalidArgument("empty segment in route template");
    bool braced = seg.front() == '{' && seg.back() == '}';
    if (!braced) {
      if (seg.find_first_of("{}") != std::string_view::npos) {
        return InvalidArgument("a parameter must be a whole segment: " + std::string(seg));
      }
      auto it = node->literals.find(seg);
      if (it == node->literals.end()) {
        it = node->literals.emplace(std::string(seg), std::make_unique<Node>()).first;
      }
      node = it->second.get();
      continue;
    }
    std::string_view name = seg.substr(1, seg.size() - 2);
    const bool may_be_empty = !name.empty() && name.back() == '*';
    const bool greedy = may_be_empty || (!name.empty() && name.back() == '+');
    if (greedy) name.remove_suffix(1);
    if (!ValidParamName(name)) {
      return InvalidArgument("invalid parameter name in segment " + std::string(seg));
    }
    for (const auto& existing : route->param_names) {
      if (existing == name) return InvalidArgument("repeated parameter " + std::string(name));
    }
    route->param_names.emplace_back(name);
    std::unique_ptr<Node>& child =
        may_be_empty ? node->greedy_empty : (greedy ? node->greedy : node->param);
    if (greedy && i + 1 != segs.size()) {
      return InvalidArgument("a greedy parameter must be the last segment");
    }
    if (!child) child = std::make_unique<Node>();
    node = child.get();
  }
  if (node->routes.count(method) != 0) {
    return AlreadyExists("route " + method + " " + std::string(path_template) + " exists");
  }
  node->routes.emplace(method, std::move(route));
  ++count_;
  return OkStatus();
}

RouteMatch Router::Match(std::string_view method, std::string_view raw_path) const {
  RouteMatch out;
  if (raw_path.empty() || raw_path.front() != '/') return out;
  Search s;
  s.method = method;
  s.raw_path = raw_path;
  auto segs = SplitPath(raw_path);
  if (Visit(*root_, segs, 0, s)) {
    out.kind = RouteMatch::Kind::kFound;
    out.route = s.found;
    for (size_t i = 0; i < s.found->param_names.size() && i < s.found_values.size(); ++i) {
      out.params.emplace(s.found->param_names[i], DecodeOrRaw(s.found_values[i]));
    }
    return out;
  }
  if (!s.allow.empty()) {
    out.kind = RouteMatch::Kind::kMethodNotAllowed;
    for (const auto& m : s.allow) {
      if (!out.allow.empty()) out.allow += ", ";
      out.allow += m;
    }
  }
  return out;
}

namespace {

template <typename NodeT>
void Collect(const NodeT& node, std::vector<const Route*>& out) {
  for (const auto& [method, route] : node.routes) out.push_back(route.get());
  for (const auto& [segment, child] : node.literals) Collect(*child, out);
  if (node.param) Collect(*node.param, out);
  if (node.greedy) Collect(*node.greedy, out);
  if (node.greedy_empty) Collect(*node.greedy_empty, out);
}

}  // namespace

std::vector<const Route*> Router::Routes() const {
  std::vector<const Route*> out;
  out.reserve(count_);
  Collect(*root_, out);
  std::sort(out.begin(), out.end(), [](const Route* a, const Route* b) {
    return std::tie(a->path_template, a->method) < std::tie(b->path_template, b->method);
  });
  return out;
}

}  // namespace veil::http
