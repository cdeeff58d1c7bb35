#include "inc/utils.h"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

namespace {
std::string ErrnoText() { return std::strerror(errno); }

bool EndsWith(const std::string &s, const std::string &suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
}  // namespace

bool IsFile(const std::string &path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::vector<std::string> ListBinFiles(const std::string &dir_path, std::string *error) {
  std::vector<std::string> files;
  DIR *dir = opendir(dir_path.c_str());
  if (dir == nullptr) {
    *error = dir_path + ": cannot open input folder (" + ErrnoText() + ")";
    return files;
  }
  for (struct dirent *entry = readdir(dir); entry != nullptr; entry = readdir(dir)) {
    std::string name = entry->d_name;
    if (name.empty() || name[0] == '.' || !EndsWith(name, ".bin")) continue;
    std::string full = dir_path + "/" + name;
    if (IsFile(full)) files.push_back(full);
  }
  closedir(dir);
  std::sort(files.begin(), files.end());
  return files;
}

bool ReadFile(const std::string &path, std::vector<char> *data, std::string *error) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) {
    *error = path + ": cannot open (" + ErrnoText() + ")";
    return false;
  }
  std::streamsize size = in.tellg();
  in.seekg(0, std::ios::beg);
  data->resize(static_cast<size_t>(size));
  if (size > 0 && !in.read(data->data(), size)) {
    *error = path + ": read failed";
    return false;
  }
  return true;
}

bool WriteFileAtomic(const std::string &path, const void *data, size_t size, std::string *error) {
  std::string tmp = path + ".tmp";
  FILE *f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) {
    *error = path + ": cannot write (" + ErrnoText() + ")";
    return false;
  }
  bool ok = std::fwrite(data, 1, size, f) == size;
  ok = (std::fclose(f) == 0) && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    *error = path + ": write failed (" + ErrnoText() + ")";
    std::remove(tmp.c_str());
    return false;
  }
  return true;
}

std::string ResultPath(const std::string &dir, const std::string &input_path) {
  std::string name = input_path.substr(input_path.find_last_of('/') + 1);
  name = name.substr(0, name.size() - std::strlen(".bin"));
  return dir + "/" + name + "_0.bin";
}

bool MakeDirs(const std::string &path, std::string *error) {
  std::string partial;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    partial = path.substr(0, pos);
    if (partial.empty()) continue;
    if (mkdir(partial.c_str(), 0755) != 0 && errno != EEXIST) {
      *error = partial + ": cannot create folder (" + ErrnoText() + ")";
      return false;
    }
  }
  struct stat st;
  if (stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    *error = path + ": not a folder";
    return false;
  }
  return true;
}
