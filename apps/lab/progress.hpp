// Progress: what the lab is doing, on stderr. On a terminal, one bar redrawn in place (at most 10 times a
// second); otherwise (CI, a pipe) one plain line per step, so logs stay readable.
#pragma once
#include <chrono>
#include <cstddef>
#include <string>

namespace waitless::lab {

class Progress {
 public:
  Progress(std::size_t total_steps, bool tty);
  ~Progress();

  void begin(std::string label);       // a step starts
  void update(double fraction);        // within the step, 0..1 (drawn only on a terminal)
  void end();                          // the step is done
  void note(const std::string& line);  // a message of its own, above the bar
  void finish();                       // clears the bar

  bool tty() const noexcept { return tty_; }
  // The bar for a state, without escape codes (exposed for tests): "[#####.....] 3/10 label 50%".
  static std::string render(std::size_t done, std::size_t total, double fraction, const std::string& label,
                            int width = 30);

 private:
  void draw(bool force);
  std::size_t total_, done_ = 0;
  bool tty_;
  bool drawn_ = false;
  double fraction_ = 0;
  std::string label_;
  std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace waitless::lab
