/**
 * MelGAN C++ inference: run an exported generator MINDIR over the mel windows that
 * preprocess.py wrote (`NAME_NNN.bin`, float32 [1, 80, eval_length] each) and write each window's
 * audio to `output_path/NAME_NNN_0.bin` (float32 [1, 1, 256 * eval_length]); postprocess.py
 * cross-fades them back into WAVs.
 *
 * Uses the MindSpore / MindSpore Lite C++ API (Context + DeviceInfo + Model::Build(path, kMindIR)),
 * so the same source runs on Ascend 310 / Ascend / GPU / CPU. Every failure is one line on stderr
 * naming the file and the problem, and exit status 1.
 */
#include <fcntl.h>
#include <gflags/gflags.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include "include/api/context.h"
#include "include/api/model.h"
#include "include/api/status.h"
#include "include/api/types.h"
#include "inc/utils.h"

DEFINE_string(mindir_path, "", "exported generator (.mindir)");
DEFINE_string(input0_path, "", "folder of float32 mel windows (*.bin) written by preprocess.py");
DEFINE_string(device_target, "CPU", "Ascend310 | Ascend | GPU | CPU");
DEFINE_int32(device_id, 0, "device id (Ascend / GPU)");
DEFINE_int32(cpu_threads, 2, "CPU threads");
DEFINE_string(output_path, "./result_Files", "folder for the audio windows (NAME_0.bin)");
DEFINE_string(time_path, "./time_Result", "folder for the timing summary (test_perform_static.txt)");
DEFINE_string(runtime_log, "", "file for the runtime's own log lines (default TIME_PATH/runtime.log; '-' = stderr)");

namespace {

// The console's stderr. The runtime writes its own [ERROR]/[WARNING] lines to stderr; those are
// sent to the runtime log so that a failure shows exactly one line of ours.
int g_console_fd = STDERR_FILENO;
std::string g_runtime_log = "stderr";

int Fail(const std::string &message) {
  std::string line = "error: " + message + "\n";
  if (write(g_console_fd, line.data(), line.size()) < 0) return 1;
  return 1;
}

void SendRuntimeLogTo(const std::string &path) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd < 0) return;  // keep the runtime's lines on stderr rather than lose them
  g_runtime_log = path;
  fflush(stderr);
  g_console_fd = dup(STDERR_FILENO);
  dup2(fd, STDERR_FILENO);
  close(fd);
}

std::string FirstLine(const std::string &text) {
  std::string line = text.substr(0, text.find('\n'));
  return line.empty() ? "unknown reason" : line;
}

std::string ShapeText(const std::vector<int64_t> &shape) {
  std::ostringstream out;
  out << "[";
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << "]";
  return out.str();
}

// The device part of the context; nullptr for an unknown target.
std::shared_ptr<mindspore::DeviceInfoContext> MakeDevice(const std::string &target) {
  if (target == "Ascend310" || target == "Ascend") {
    auto ascend = std::make_shared<mindspore::AscendDeviceInfo>();
    ascend->SetDeviceID(FLAGS_device_id);
    return ascend;
  }
  if (target == "GPU") {
    auto gpu = std::make_shared<mindspore::GPUDeviceInfo>();
    gpu->SetDeviceID(FLAGS_device_id);
    return gpu;
  }
  if (target == "CPU") return std::make_shared<mindspore::CPUDeviceInfo>();
  return nullptr;
}

// Frames of a window file for a model input [1, mel, T] (T = -1 when the frame axis is dynamic);
// -1 with `error` set if the file does not fit.
int64_t FramesOf(const std::string &path, size_t bytes, const std::vector<int64_t> &shape, std::string *error) {
  const int64_t mel = shape[1];
  const int64_t floats = static_cast<int64_t>(bytes / sizeof(float));
  if (bytes == 0 || bytes % sizeof(float) != 0 || floats % mel != 0) {
    *error = path + ": wrong input size (" + std::to_string(bytes) + " bytes is not a float32 [1, " +
             std::to_string(mel) + ", frames] window)";
    return -1;
  }
  const int64_t frames = floats / mel;
  if (shape[2] > 0 && frames != shape[2]) {
    *error = path + ": wrong input shape [1, " + std::to_string(mel) + ", " + std::to_string(frames) +
             "]: the model takes " + ShapeText(shape) + " (export with --eval_length " + std::to_string(frames) +
             " or --dynamic_length True)";
    return -1;
  }
  return frames;
}

}  // namespace

int main(int argc, char **argv) {
  gflags::SetUsageMessage("melgan_infer --mindir_path=M --input0_path=DIR [--device_target=CPU]");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  if (FLAGS_mindir_path.empty() || FLAGS_input0_path.empty()) {
    return Fail("--mindir_path and --input0_path are required");
  }
  if (!IsFile(FLAGS_mindir_path)) return Fail(FLAGS_mindir_path + ": model file not found");

  std::string error;
  std::vector<std::string> inputs = ListBinFiles(FLAGS_input0_path, &error);
  if (!error.empty()) return Fail(error);
  if (inputs.empty()) return Fail(FLAGS_input0_path + ": no *.bin input windows (run preprocess.py first)");
  if (!MakeDirs(FLAGS_output_path, &error) || !MakeDirs(FLAGS_time_path, &error)) return Fail(error);
  if (FLAGS_runtime_log != "-") {
    SendRuntimeLogTo(FLAGS_runtime_log.empty() ? FLAGS_time_path + "/runtime.log" : FLAGS_runtime_log);
  }

  auto device = MakeDevice(FLAGS_device_target);
  if (device == nullptr) {
    return Fail("--device_target must be Ascend310, Ascend, GPU or CPU, got '" + FLAGS_device_target + "'");
  }
  auto context = std::make_shared<mindspore::Context>();
  context->SetThreadNum(FLAGS_cpu_threads);
  context->MutableDeviceInfo().push_back(device);

  mindspore::Model model;
  mindspore::Status status = model.Build(FLAGS_mindir_path, mindspore::ModelType::kMindIR, context);
  if (status != mindspore::kSuccess) {
    // The runtime's status is generic ("Common error code."); its log says more.
    return Fail(FLAGS_mindir_path + ": cannot load the model on " + FLAGS_device_target + " (" +
                FirstLine(status.ToString()) + "): damaged, not a MINDIR, too new for this runtime, " +
                "or no " + FLAGS_device_target + " device/runtime here; details in " + g_runtime_log);
  }
  std::vector<mindspore::MSTensor> model_inputs = model.GetInputs();
  if (model_inputs.size() != 1 || model_inputs[0].Shape().size() != 3) {
    return Fail(FLAGS_mindir_path + ": not a MelGAN generator (expected one input [1, mel, frames])");
  }
  std::vector<int64_t> model_shape = model_inputs[0].Shape();

  std::vector<double> times_ms;
  std::vector<char> data;
  for (const std::string &path : inputs) {
    if (!ReadFile(path, &data, &error)) return Fail(error);
    int64_t frames = FramesOf(path, data.size(), model_shape, &error);
    if (frames < 0) return Fail(error);
    std::vector<int64_t> shape = {1, model_shape[1], frames};
    if (model_inputs[0].Shape() != shape) {
      status = model.Resize(model_inputs, {shape});
      if (status != mindspore::kSuccess) {
        return Fail(path + ": the model cannot take " + ShapeText(shape) + " (" + FirstLine(status.ToString()) + ")");
      }
      model_inputs = model.GetInputs();
    }
    void *input_data = model_inputs[0].MutableData();
    if (input_data == nullptr || model_inputs[0].DataSize() != data.size()) {
      return Fail(path + ": cannot set the model input (" + std::to_string(data.size()) + " bytes for " +
                  ShapeText(model_inputs[0].Shape()) + ")");
    }
    std::memcpy(input_data, data.data(), data.size());

    std::vector<mindspore::MSTensor> outputs;
    auto start = std::chrono::steady_clock::now();
    status = model.Predict(model_inputs, &outputs);
    auto end = std::chrono::steady_clock::now();
    if (status != mindspore::kSuccess || outputs.empty()) {
      return Fail(path + ": inference failed (" + FirstLine(status.ToString()) + ")");
    }
    times_ms.push_back(std::chrono::duration<double, std::milli>(end - start).count());

    auto out_data = outputs[0].Data();
    if (out_data == nullptr) return Fail(path + ": the model produced no output data");
    if (!WriteFileAtomic(ResultPath(FLAGS_output_path, path), out_data.get(), outputs[0].DataSize(), &error)) {
      return Fail(error);
    }
  }

  const double mean_ms = std::accumulate(times_ms.begin(), times_ms.end(), 0.0) / times_ms.size();
  std::sort(times_ms.begin(), times_ms.end());
  const size_t mid = times_ms.size() / 2;
  const double median_ms = times_ms.size() % 2 ? times_ms[mid] : (times_ms[mid - 1] + times_ms[mid]) / 2;
  std::ostringstream summary;  // the zoo's line, then the median (robust on a shared machine)
  summary << "NN inference cost average time: " << mean_ms << " ms of infer_count " << times_ms.size() << "\n"
          << "NN inference cost median time: " << median_ms << " ms";
  std::cout << summary.str() << std::endl;
  std::ofstream time_file(FLAGS_time_path + "/test_perform_static.txt");
  time_file << summary.str() << std::endl;
  return 0;
}
