#include "apps/lab/svg_plot.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace waitless::lab {
namespace {

constexpr const char* kPalette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"};
constexpr int kLeft = 78, kRight = 200, kTop = 44, kBottom = 62;

const char* color(std::size_t i) { return kPalette[i % std::size(kPalette)]; }

bool drawable(double v, bool log_scale) { return std::isfinite(v) && (!log_scale || v > 0); }

// A value mapped onto an axis of `pixels` length; log axes map log10(v).
struct Axis {
  double lo = 0, hi = 1;
  bool log_scale = false;
  double t(double v) const { return log_scale ? std::log10(v) : v; }
  double fraction(double v) const {
    const double span = t(hi) - t(lo);
    return span > 0 ? (t(v) - t(lo)) / span : 0.5;
  }
};

// The axis range covering [mn, mx]: linear axes include 0 when `from_zero` and get 5 % headroom; log axes
// snap outwards to powers of ten.
Axis make_axis(double mn, double mx, bool log_scale, bool from_zero) {
  Axis a;
  a.log_scale = log_scale;
  if (!(mn <= mx)) {
    mn = log_scale ? 1 : 0;
    mx = log_scale ? 10 : 1;
  }
  if (log_scale) {
    a.lo = std::pow(10.0, std::floor(std::log10(mn)));
    a.hi = std::pow(10.0, std::ceil(std::log10(mx)));
    if (a.hi <= a.lo) a.hi = a.lo * 10;
  } else {
    a.lo = from_zero ? std::min(0.0, mn) : mn;
    a.hi = mx + (mx - a.lo) * 0.05;
    if (a.hi <= a.lo) a.hi = a.lo + (a.lo == 0 ? 1 : std::abs(a.lo));
  }
  return a;
}

void text(std::string& out, double x, double y, std::string_view anchor, int size, std::string_view s,
          std::string_view extra = {}) {
  out += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" text-anchor="{}" font-size="{}"{}>{}</text>)", x, y,
                     anchor, size, extra, xml_escape(s));
  out += '\n';
}

void open_svg(std::string& out, int w, int h, std::string_view title) {
  out +=
      fmt::format(R"(<svg xmlns="http://www.w3.org/2000/svg" width="{0}" height="{1}" viewBox="0 0 {0} {1}" )"
                  R"(font-family="sans-serif">)",
                  w, h);
  out += '\n';
  out += fmt::format("<title>{}</title>\n", xml_escape(title));
  out += fmt::format(R"(<rect x="0" y="0" width="{}" height="{}" fill="white"/>)", w, h);
  out += '\n';
  text(out, w / 2.0, 24, "middle", 16, title, R"( font-weight="bold")");
}

// Grid, ticks and labels of both axes around the plot area [x0, x0+pw] x [y0, y0+ph].
void draw_axes(std::string& out, const Axis& ax, const Axis& ay, double x0, double y0, double pw, double ph,
               std::string_view x_label, std::string_view y_label,
               const std::vector<std::string>* x_categories) {
  for (double v : axis_ticks(ay.lo, ay.hi, ay.log_scale)) {
    const double y = y0 + ph - ay.fraction(v) * ph;
    out += fmt::format(R"(<line x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}" stroke="#e0e0e0"/>)", x0, y,
                       x0 + pw, y);
    out += '\n';
    text(out, x0 - 6, y + 4, "end", 11, short_number(v));
  }
  if (!x_categories) {
    for (double v : axis_ticks(ax.lo, ax.hi, ax.log_scale)) {
      const double x = x0 + ax.fraction(v) * pw;
      out += fmt::format(R"(<line x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}" stroke="#e0e0e0"/>)", x, y0,
                         x, y0 + ph);
      out += '\n';
      text(out, x, y0 + ph + 16, "middle", 11, short_number(v));
    }
  }
  out += fmt::format(
      R"(<polyline points="{:.1f},{:.1f} {:.1f},{:.1f} {:.1f},{:.1f}" fill="none" stroke="#333"/>)", x0, y0,
      x0, y0 + ph, x0 + pw, y0 + ph);
  out += '\n';
  text(out, x0 + pw / 2, y0 + ph + 46, "middle", 13, x_label);
  const double ly = y0 + ph / 2;
  text(out, 18, ly, "middle", 13, y_label, fmt::format(R"svg( transform="rotate(-90 18 {:.1f})")svg", ly));
}

std::string series_color(const std::vector<std::string>& colors, std::size_t i) {
  return i < colors.size() && !colors[i].empty() ? colors[i] : color(i);
}

void draw_legend(std::string& out, const std::vector<std::string>& names, double x, double y,
                 const std::vector<std::string>& colors) {
  for (std::size_t i = 0; i < names.size(); ++i) {
    const double yy = y + static_cast<double>(i) * 20;
    out += fmt::format(R"(<rect x="{:.1f}" y="{:.1f}" width="14" height="4" fill="{}"/>)", x, yy - 6,
                       series_color(colors, i));
    out += '\n';
    text(out, x + 20, yy, "start", 12, names[i]);
  }
}

}  // namespace

std::string xml_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        // Control characters other than tab and newline are not allowed in XML 1.0.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n') {
          out += ' ';
        } else {
          out += c;
        }
    }
  }
  return out;
}

std::vector<double> axis_ticks(double lo, double hi, bool log_scale) {
  std::vector<double> ticks;
  if (!(lo < hi) || !std::isfinite(lo) || !std::isfinite(hi)) return ticks;
  if (log_scale) {
    if (lo <= 0) return ticks;
    const int first = static_cast<int>(std::ceil(std::log10(lo) - 1e-9));
    const int last = static_cast<int>(std::floor(std::log10(hi) + 1e-9));
    const int stride = (last - first) > 8 ? 2 : 1;
    for (int e = first; e <= last; e += stride) ticks.push_back(std::pow(10.0, e));
    return ticks;
  }
  const double raw = (hi - lo) / 5;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double norm = raw / mag;
  const double step = (norm < 1.5 ? 1 : norm < 3.5 ? 2 : norm < 7.5 ? 5 : 10) * mag;
  for (double v = std::ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) {
    ticks.push_back(std::abs(v) < step * 1e-9 ? 0.0 : v);
  }
  return ticks;
}

std::string short_number(double v) {
  if (!std::isfinite(v)) return "-";
  const double a = std::abs(v);
  auto trim = [](std::string s) {
    if (s.find('.') != std::string::npos) {
      while (s.back() == '0') s.pop_back();
      if (s.back() == '.') s.pop_back();
    }
    return s;
  };
  if (a >= 1e9) return trim(fmt::format("{:.2f}", v / 1e9)) + "G";
  if (a >= 1e6) return trim(fmt::format("{:.2f}", v / 1e6)) + "M";
  if (a >= 1e4) return trim(fmt::format("{:.1f}", v / 1e3)) + "k";
  if (a >= 100) return trim(fmt::format("{:.0f}", v));
  if (a >= 1) return trim(fmt::format("{:.2f}", v));
  if (a == 0) return "0";
  return trim(fmt::format("{:.3g}", v));
}

std::string render_svg(const LinePlot& plot) {
  double xmin = std::numeric_limits<double>::infinity(), xmax = -xmin, ymin = xmin, ymax = -xmin;
  for (const auto& s : plot.series) {
    for (auto [x, y] : s.points) {
      if (!drawable(x, plot.log_x) || !drawable(y, plot.log_y)) continue;
      xmin = std::min(xmin, x);
      xmax = std::max(xmax, x);
      ymin = std::min(ymin, y);
      ymax = std::max(ymax, y);
    }
  }
  const Axis ax = make_axis(xmin, xmax, plot.log_x, false);
  const Axis ay = make_axis(ymin, ymax, plot.log_y, true);
  const double x0 = kLeft, y0 = kTop;
  const double pw = plot.width - kLeft - kRight, ph = plot.height - kTop - kBottom;

  std::string out;
  open_svg(out, plot.width, plot.height, plot.title);
  draw_axes(out, ax, ay, x0, y0, pw, ph, plot.x_label, plot.y_label, nullptr);
  std::vector<std::string> names, colors;
  for (std::size_t i = 0; i < plot.series.size(); ++i) {
    const auto& s = plot.series[i];
    const std::string stroke = s.reference ? "#9e9e9e" : color(i);
    names.push_back(s.name);
    colors.push_back(stroke);
    std::string pts, marks;
    for (auto [x, y] : s.points) {
      if (!drawable(x, plot.log_x) || !drawable(y, plot.log_y)) continue;
      const double px = x0 + ax.fraction(x) * pw, py = y0 + ph - ay.fraction(y) * ph;
      pts += fmt::format("{:.1f},{:.1f} ", px, py);
      if (s.reference) continue;
      marks += fmt::format(
          R"(<circle cx="{:.1f}" cy="{:.1f}" r="3.5" fill="{}"><title>{}: {} -> {}</title></circle>)", px, py,
          stroke, xml_escape(s.name), short_number(x), short_number(y));
      marks += '\n';
    }
    if (!pts.empty()) {
      pts.pop_back();
      out += fmt::format(R"(<polyline points="{}" fill="none" stroke="{}" stroke-width="2"{}/>)", pts, stroke,
                         s.reference ? R"( stroke-dasharray="6 4")" : "");
      out += '\n';
    }
    out += marks;
  }
  draw_legend(out, names, x0 + pw + 16, y0 + 10, colors);
  out += "</svg>\n";
  return out;
}

std::string render_svg(const BarChart& chart) {
  double ymin = std::numeric_limits<double>::infinity(), ymax = -ymin;
  for (const auto& g : chart.groups) {
    for (double v : g.values) {
      if (!drawable(v, chart.log_y)) continue;
      ymin = std::min(ymin, v);
      ymax = std::max(ymax, v);
    }
  }
  const Axis ay = make_axis(ymin, ymax, chart.log_y, true);
  const double x0 = kLeft, y0 = kTop;
  const double pw = chart.width - kLeft - kRight, ph = chart.height - kTop - kBottom;

  std::string out;
  open_svg(out, chart.width, chart.height, chart.title);
  std::vector<std::string> labels;
  for (const auto& g : chart.groups) labels.push_back(g.label);
  draw_axes(out, Axis{}, ay, x0, y0, pw, ph, "", chart.y_label, &labels);
  const std::size_t n_groups = std::max<std::size_t>(chart.groups.size(), 1);
  const std::size_t n_series = std::max<std::size_t>(chart.series_names.size(), 1);
  const double group_w = pw / static_cast<double>(n_groups);
  const double bar_w = group_w * 0.7 / static_cast<double>(n_series);
  for (std::size_t g = 0; g < chart.groups.size(); ++g) {
    const double gx = x0 + group_w * static_cast<double>(g);
    // A long label goes on two lines, split at the space nearest its middle, so neighbours never overlap.
    const std::string& label = chart.groups[g].label;
    const auto mid = label.size() / 2;
    const auto before = label.rfind(' ', mid), after = label.find(' ', mid);
    std::size_t split = std::string::npos;
    if (label.size() > 14 && (before != std::string::npos || after != std::string::npos)) {
      split = before == std::string::npos                                 ? after
              : after == std::string::npos || mid - before <= after - mid ? before
                                                                          : after;
    }
    if (split == std::string::npos) {
      text(out, gx + group_w / 2, y0 + ph + 18, "middle", 11, label);
    } else {
      text(out, gx + group_w / 2, y0 + ph + 16, "middle", 11, label.substr(0, split));
      text(out, gx + group_w / 2, y0 + ph + 30, "middle", 11, label.substr(split + 1));
    }
    for (std::size_t s = 0; s < chart.groups[g].values.size() && s < n_series; ++s) {
      const double v = chart.groups[g].values[s];
      if (!drawable(v, chart.log_y)) continue;
      const double top = y0 + ph - std::clamp(ay.fraction(v), 0.0, 1.0) * ph;
      const double bx = gx + group_w * 0.15 + bar_w * static_cast<double>(s);
      out += fmt::format(
          R"(<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="{}"><title>{}: {}</title></rect>)",
          bx, top, bar_w - 2, y0 + ph - top, series_color(chart.series_colors, s),
          xml_escape(s < chart.series_names.size() ? chart.series_names[s] : ""), short_number(v));
      out += '\n';
      text(out, bx + (bar_w - 2) / 2, top - 4, "middle", 10, short_number(v));
    }
  }
  draw_legend(out, chart.series_names, x0 + pw + 16, y0 + 10, chart.series_colors);
  out += "</svg>\n";
  return out;
}

}  // namespace waitless::lab
