#include "waitless/web/compress.hpp"

#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "waitless/http/header.hpp"
#include "waitless/http/response.hpp"
#include "waitless/web/accept_encoding.hpp"
#include "waitless/web/request.hpp"
#include "waitless/web/response.hpp"
#include "waitless/web/vary.hpp"

namespace waitless::web {
namespace {

struct CompressConfig {
  CompressionOptions options;
  CompressionPolicy policy;
  EncodingSupport support;
};

class CompressionFilter final : public http::BodyFilter {
 public:
  CompressionFilter(const CompressConfig& cfg, Encoding encoding) noexcept : cfg_(cfg), encoding_(encoding) {}

  Mode on_head(http::Response& res, std::optional<uint64_t> length) override {
    if (res.has("Content-Encoding") || res.has("Content-Range") || res.status() == 206) return Mode::pass;
    if (auto cc = res.get("Cache-Control"); cc && list_has_directive(*cc, "no-transform")) return Mode::pass;
    const std::string_view type = res.get("Content-Type").value_or(std::string_view{});
    if (!should_compress(type, std::nullopt, cfg_.policy)) return Mode::pass;
    add_vary(res, "Accept-Encoding");
    if (length && *length < cfg_.options.threshold) return Mode::pass;
    if (encoding_ == Encoding::identity) return Mode::pass;
    auto c = Compressor::create(encoding_, cfg_.options.compressor);
    if (!c) return Mode::pass;  // no memory for the codec's state: identity still answers
    compressor_.emplace(std::move(*c));
    res.set("Content-Encoding", encoding_name(encoding_));
    if (auto etag = res.get("ETag"); etag && !etag->starts_with("W/")) {
      std::string weak = "W/";
      weak += *etag;
      res.set("ETag", weak);
    }
    return Mode::transform;
  }

  Result<std::string_view> transform(std::string_view in, bool last) override {
    out_.clear();
    if (!in.empty()) {
      compressor_->write(in);
      if (auto ec = drain()) return ec;
    }
    if (last) {
      compressor_->finish();
      if (auto ec = drain()) return ec;
    }
    return std::string_view(out_);
  }

 private:
  static bool list_has_directive(std::string_view list, std::string_view directive) noexcept {
    while (!list.empty()) {
      const std::size_t comma = list.find(',');
      std::string_view item = list.substr(0, comma);
      while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
      item = item.substr(0, item.find('='));
      while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
      if (http::iequals(item, directive)) return true;
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
    return false;
  }
  std::error_code drain() {
    for (;;) {
      auto piece = compressor_->next();
      if (!piece) return piece.error();
      if (piece->empty()) return {};
      out_.append(*piece);
    }
  }

  const CompressConfig& cfg_;
  Encoding encoding_;
  std::optional<Compressor> compressor_;
  std::string out_;  // one input's compressed output (at most about the input's size)
};

}  // namespace

Layer compression(CompressionOptions options) {
  auto cfg = std::make_shared<CompressConfig>();
  cfg->options = std::move(options);
  cfg->policy.min_size = cfg->options.threshold;
  cfg->policy.skip_types = cfg->options.skip_types;
  cfg->support = {.br = cfg->options.brotli, .gzip = cfg->options.gzip};
  Layer layer;
  layer.sync = [cfg](Request& req, Response& res, Next next) {
    std::optional<std::string_view> accept;
    if (req.has_header("Accept-Encoding")) accept = req.header("Accept-Encoding");
    const Negotiated n = negotiate_encoding(accept, cfg->support);
    auto* filter = req.raw().arena().make<CompressionFilter>(*cfg, n.encoding);
    res.raw().add_body_filter(*filter);
    next();
  };
  return layer;
}

}  // namespace waitless::web
