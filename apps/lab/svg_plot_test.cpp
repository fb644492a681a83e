#include "apps/lab/svg_plot.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

namespace waitless::lab {
namespace {

std::size_t count(const std::string& haystack, std::string_view needle) {
  std::size_t n = 0;
  for (auto at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1)) ++n;
  return n;
}

TEST(LabSvg, EscapesMarkup) {
  EXPECT_EQ(xml_escape("a<b & \"c\" 'd'>"), "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;");
  EXPECT_EQ(xml_escape(std::string("x\x01y", 3)), "x y");
}

TEST(LabSvg, LinearTicksAreNiceSteps) {
  EXPECT_EQ(axis_ticks(0, 10, false), (std::vector<double>{0, 2, 4, 6, 8, 10}));
  EXPECT_EQ(axis_ticks(0, 1000, false), (std::vector<double>{0, 200, 400, 600, 800, 1000}));
  auto t = axis_ticks(0, 0.35, false);
  ASSERT_FALSE(t.empty());
  EXPECT_NEAR(t[1] - t[0], 0.05, 1e-12);
  EXPECT_TRUE(axis_ticks(5, 5, false).empty());
}

TEST(LabSvg, LogTicksArePowersOfTen) {
  EXPECT_EQ(axis_ticks(1, 10000, true), (std::vector<double>{1, 10, 100, 1000, 10000}));
  EXPECT_TRUE(axis_ticks(0, 100, true).empty());  // log of 0 has no place
}

TEST(LabSvg, ShortNumbers) {
  EXPECT_EQ(short_number(0), "0");
  EXPECT_EQ(short_number(1500), "1500");
  EXPECT_EQ(short_number(25000), "25k");
  EXPECT_EQ(short_number(2.5e6), "2.5M");
  EXPECT_EQ(short_number(0.25), "0.25");
  EXPECT_EQ(short_number(3.14159), "3.14");
  EXPECT_EQ(short_number(NAN), "-");
}

TEST(LabSvg, LinePlotHasOnePolylinePerSeriesAndAMarkPerPoint) {
  LinePlot p;
  p.title = "throughput <vs> concurrency";
  p.x_label = "connections";
  p.y_label = "requests/s";
  p.log_x = true;
  p.series = {{"threads", {{1, 50}, {10, 480}, {100, 4000}}}, {"loop", {{1, 49}, {10, 490}, {100, 4900}}}};
  const std::string svg = render_svg(p);
  EXPECT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_NE(svg.find("throughput &lt;vs&gt; concurrency"), std::string::npos);
  // Two data polylines plus the axes' polyline.
  EXPECT_EQ(count(svg, "<polyline"), 3u);
  EXPECT_EQ(count(svg, "<circle"), 6u);
  EXPECT_NE(svg.find(">threads</text>"), std::string::npos);
  EXPECT_NE(svg.find(">loop</text>"), std::string::npos);
}

TEST(LabSvg, ReferenceSeriesIsDashedWithoutMarks) {
  LinePlot p;
  p.series = {{"measured", {{1, 1}, {2, 2}}}, {"limit", {{1, 2}, {2, 4}}, true}};
  const std::string svg = render_svg(p);
  EXPECT_EQ(count(svg, "<circle"), 2u);
  EXPECT_EQ(count(svg, "stroke-dasharray"), 1u);
  EXPECT_NE(svg.find(">limit</text>"), std::string::npos);
}

TEST(LabSvg, LongBarLabelsWrapOntoTwoLines) {
  BarChart c;
  c.series_names = {"v"};
  c.groups = {{"event loop + cpu pool", {1}}, {"short", {2}}};
  const std::string svg = render_svg(c);
  EXPECT_NE(svg.find(">event loop</text>"), std::string::npos);
  EXPECT_NE(svg.find(">+ cpu pool</text>"), std::string::npos);
  EXPECT_NE(svg.find(">short</text>"), std::string::npos);
}

TEST(LabSvg, UndrawablePointsAreSkipped) {
  LinePlot p;
  p.log_x = true;
  p.log_y = true;
  p.series = {{"s", {{0, 1}, {1, NAN}, {10, -5}, {100, 7}, {1000, 70}}}};
  const std::string svg = render_svg(p);
  EXPECT_EQ(count(svg, "<circle"), 2u);
  EXPECT_EQ(svg.find("nan"), std::string::npos);
  EXPECT_EQ(svg.find("inf"), std::string::npos);
}

TEST(LabSvg, EmptyPlotIsStillAValidDocument) {
  LinePlot p;
  p.title = "nothing measured";
  const std::string svg = render_svg(p);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_EQ(count(svg, "<circle"), 0u);
}

TEST(LabSvg, BarChartDrawsABarPerValue) {
  BarChart c;
  c.title = "100 requests";
  c.y_label = "seconds";
  c.series_names = {"measured", "limit"};
  c.groups = {{"sequential", {10.1, 10.0}}, {"loop", {0.61, 0.595}}, {"pool", {0.37, NAN}}};
  const std::string svg = render_svg(c);
  EXPECT_EQ(count(svg, "<rect") - 1 /* background */ - 2 /* legend */, 5u);
  EXPECT_NE(svg.find(">sequential</text>"), std::string::npos);
  EXPECT_NE(svg.find(">10.1</text>"), std::string::npos);
}

}  // namespace
}  // namespace waitless::lab
