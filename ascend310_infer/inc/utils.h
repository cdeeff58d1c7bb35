/**
 * File helpers for the MelGAN C++ inference app: list the input windows, read/write raw float32
 * files (the .bin files preprocess.py writes and postprocess.py reads).
 */
#ifndef MELGAN_INFER_UTILS_H_
#define MELGAN_INFER_UTILS_H_

#include <string>
#include <vector>

// Sorted paths of the regular `*.bin` files in `dir_path`; empty if none. Sets `error` if the
// folder cannot be read.
std::vector<std::string> ListBinFiles(const std::string &dir_path, std::string *error);

// Whole file as bytes; false (and `error`) if it cannot be read.
bool ReadFile(const std::string &path, std::vector<char> *data, std::string *error);

// Write `size` bytes atomically: to `path.tmp` first, then rename, so a killed run never leaves
// a truncated result under the final name.
bool WriteFileAtomic(const std::string &path, const void *data, size_t size, std::string *error);

// `dir/name`, for the output of one input file: `name.bin` -> `dir/name_0.bin` (the zoo's naming).
std::string ResultPath(const std::string &dir, const std::string &input_path);

// Create a folder (and its parents) if missing; false (and `error`) on failure.
bool MakeDirs(const std::string &path, std::string *error);

bool IsFile(const std::string &path);

#endif  // MELGAN_INFER_UTILS_H_
