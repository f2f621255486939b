// classify_bench: images per second of framebus::Classifier on a model, at several batch sizes.
// Each run classifies 640x480 BGR frames (resize and normalisation included), as a worker that
// takes frames from a channel does.
//
//   scripts/make-model --out /tmp/resnet18.onnx
//   build/bench/classify_bench --model /tmp/resnet18.onnx --threads 2 --batches 1,4,8 --seconds 5
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <random>
#include <vector>

#include "framebus/classify/classifier.hpp"

namespace {

using Clock = std::chrono::steady_clock;

// Frames with some structure (random blocks), so nothing is special about them.
std::vector<std::vector<std::byte>> make_frames(std::size_t count, std::uint32_t width, std::uint32_t height) {
  std::mt19937 rng(7);
  std::vector<std::vector<std::byte>> frames(count, std::vector<std::byte>(std::size_t{width} * height * 3));
  for (auto& f : frames) {
    for (std::size_t i = 0; i < f.size(); i += 64) {
      const auto v = static_cast<std::byte>(rng() & 0xFFU);
      for (std::size_t j = i; j < std::min(f.size(), i + 64); ++j) f[j] = v;
    }
  }
  return frames;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("Images per second of framebus::Classifier");
  std::string model;
  int threads = 2;
  std::vector<std::uint32_t> batches{1, 4, 8};
  double seconds = 5.0;
  std::uint32_t width = 640;
  std::uint32_t height = 480;
  app.add_option("--model", model, "ONNX model (scripts/make-model writes ResNet-18)")->required();
  app.add_option("--threads", threads, "OpenCV threads (cv::setNumThreads)");
  app.add_option("--batches", batches, "batch sizes to measure")->delimiter(',');
  app.add_option("--seconds", seconds, "measuring time per batch size");
  app.add_option("--width", width, "frame width");
  app.add_option("--height", height, "frame height");
  CLI11_PARSE(app, argc, argv);

  const auto frames = make_frames(16, width, height);
  std::printf("model %s, %d threads, %ux%u BGR frames\n", model.c_str(), threads, width, height);
  std::printf("%6s %8s %9s %10s %12s\n", "batch", "images", "seconds", "images/s", "ms/batch");
  for (const std::uint32_t batch : batches) {
    framebus::ClassifierOptions o;
    o.model = model;
    o.threads = threads;
    o.max_batch = batch;
    auto c = framebus::Classifier::create(o);
    if (!c) {
      std::fprintf(stderr, "classify_bench: %s\n", c.error().message().c_str());
      return 1;
    }
    std::vector<framebus::ImageRef> images(batch);
    for (std::uint32_t i = 0; i < batch; ++i) {
      images[i] = {frames[i % frames.size()].data(),
                   framebus::ImageDesc::packed(width, height, framebus::PixelFormat::bgr24)};
    }
    if (!c->classify(images)) return 1;  // warm-up: first-run allocations are not measured
    std::size_t done = 0;
    std::size_t runs = 0;
    const auto start = Clock::now();
    double elapsed = 0.0;
    while (elapsed < seconds || runs < 3) {
      auto r = c->classify(images);
      if (!r) {
        std::fprintf(stderr, "classify_bench: %s\n", r.error().message().c_str());
        return 1;
      }
      done += batch;
      ++runs;
      elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    }
    std::printf("%6u %8zu %9.2f %10.1f %12.1f\n", batch, done, elapsed, static_cast<double>(done) / elapsed,
                1000.0 * elapsed / static_cast<double>(runs));
  }
  return 0;
}
