// Hand-written SVG charts for the lab's report: line plots (one polyline per series, with axes, ticks,
// labels and a legend) and grouped bar charts. Readable at a glance, no scripts, valid standalone XML.
// Points that cannot be drawn (not finite, or <= 0 on a log axis) are skipped, never drawn at a wrong place.
#pragma once
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace waitless::lab {

struct PlotSeries {
  std::string name;
  std::vector<std::pair<double, double>> points;  // (x, y), in x order
  bool reference = false;  // a computed line (a limit), drawn dashed and grey, without point marks
};

struct LinePlot {
  std::string title;
  std::string x_label;
  std::string y_label;
  bool log_x = false;
  bool log_y = false;
  std::vector<PlotSeries> series;
  int width = 760;
  int height = 420;
};

struct BarGroup {
  std::string label;           // e.g. "event loop"
  std::vector<double> values;  // one per BarChart::series_names entry (NaN: no bar)
};

struct BarChart {
  std::string title;
  std::string y_label;
  std::vector<std::string> series_names;   // e.g. {"measured", "physical limit"}
  std::vector<std::string> series_colors;  // optional, per series ("#999"); default: the palette
  std::vector<BarGroup> groups;
  bool log_y = false;
  int width = 760;
  int height = 420;
};

std::string render_svg(const LinePlot& plot);
std::string render_svg(const BarChart& chart);

// Text made safe for XML character data and attribute values.
std::string xml_escape(std::string_view text);
// Tick positions for an axis over [lo, hi]: 1-2-5 steps on a linear axis, powers of ten on a log one.
std::vector<double> axis_ticks(double lo, double hi, bool log_scale);
// A short label for a tick or value: 1500 -> "1.5k", 0.25 -> "0.25", 2e6 -> "2M".
std::string short_number(double v);

}  // namespace waitless::lab
