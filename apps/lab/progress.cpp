#include "apps/lab/progress.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace waitless::lab {

Progress::Progress(std::size_t total_steps, bool tty)
    : total_(std::max<std::size_t>(total_steps, 1)), tty_(tty) {}

Progress::~Progress() { finish(); }

std::string Progress::render(std::size_t done, std::size_t total, double fraction, const std::string& label,
                             int width) {
  total = std::max<std::size_t>(total, 1);
  fraction = std::clamp(std::isfinite(fraction) ? fraction : 0.0, 0.0, 1.0);
  const double overall = std::min(1.0, (static_cast<double>(done) + fraction) / static_cast<double>(total));
  const int filled = static_cast<int>(std::lround(overall * width));
  std::string bar = "[";
  bar.append(static_cast<std::size_t>(filled), '#');
  bar.append(static_cast<std::size_t>(width - filled), '.');
  bar += "] ";
  bar += std::to_string(std::min(done + 1, total)) + "/" + std::to_string(total) + " " + label;
  bar += " " + std::to_string(static_cast<int>(std::lround(fraction * 100))) + "%";
  return bar;
}

void Progress::draw(bool force) {
  if (!tty_) return;
  const auto now = std::chrono::steady_clock::now();
  if (!force && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  std::fprintf(stderr, "\r\x1b[2K%s", render(done_, total_, fraction_, label_).c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void Progress::begin(std::string label) {
  label_ = std::move(label);
  fraction_ = 0;
  if (tty_) {
    draw(true);
  } else {
    std::fprintf(stderr, "lab: [%zu/%zu] %s\n", std::min(done_ + 1, total_), total_, label_.c_str());
  }
}

void Progress::update(double fraction) {
  fraction_ = fraction;
  draw(false);
}

void Progress::end() {
  ++done_;
  fraction_ = 0;
  draw(true);
}

void Progress::note(const std::string& line) {
  if (tty_ && drawn_) std::fprintf(stderr, "\r\x1b[2K");
  std::fprintf(stderr, "lab: %s\n", line.c_str());
  if (tty_ && drawn_) draw(true);
}

void Progress::finish() {
  if (tty_ && drawn_) {
    std::fprintf(stderr, "\r\x1b[2K");
    std::fflush(stderr);
    drawn_ = false;
  }
}

}  // namespace waitless::lab
