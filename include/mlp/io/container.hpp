// The binary container behind model files and training checkpoints: named sections of text
// (key -> value) or tensors, a declared total length and a CRC-32, all little-endian.
//
//   magic[8] | u32 version | u32 reserved | u64 total_length | u32 section_count
//   section: u32 kind (1 text, 2 tensors) | u32 name_len | name | u64 payload_len | payload
//   text payload:    u32 count, then (u32 len, key, u32 len, value) per entry
//   tensor payload:  u32 count, then (u32 len, name, u32 rows, u32 cols, u32 scalar_bytes, data)
//   u32 CRC-32 (zlib) of every byte before it
//
// Reading checks, in this order, and says which failed: the magic number, the version, the length
// (truncated or trailing bytes), the checksum, the reserved field (0), then every size inside
// against the bytes left.
#pragma once

#include "mlp/core/errors.hpp"
#include "mlp/io/atomic_file.hpp"
#include "mlp/model/state_dict.hpp"

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace mlp {

using TextSection = std::map<std::string, std::string>;

namespace detail {

inline void put_le(std::string& out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
inline void put_string(std::string& out, const std::string& s) {
  put_le(out, s.size(), 4);
  out += s;
}
// Tensors are stored in the host's byte order, which has to be little-endian (x86, ARM).
inline bool host_is_little_endian() {
  const std::uint16_t one = 1;
  unsigned char first = 0;
  std::memcpy(&first, &one, 1);
  return first == 1;
}

inline std::uint32_t crc32_of(const char* data, std::size_t size) {
  return static_cast<std::uint32_t>(
      ::crc32(0L, reinterpret_cast<const Bytef*>(data), static_cast<uInt>(size)));
}

}  // namespace detail

class ContainerWriter {
 public:
  void add_text(const std::string& name, const TextSection& entries) {
    std::string payload;
    detail::put_le(payload, entries.size(), 4);
    for (const auto& [key, value] : entries) {
      detail::put_string(payload, key);
      detail::put_string(payload, value);
    }
    add_section(1, name, payload);
  }

  template <class S>
  void add_tensors(const std::string& name, const StateDict<S>& tensors) {
    static_assert(sizeof(S) == 4 || sizeof(S) == 8, "tensors are stored as float or double");
    detail::require<IoError>(detail::host_is_little_endian(),
                             "mlp files are little-endian; this host is not");
    std::string payload;
    detail::put_le(payload, tensors.size(), 4);
    for (const auto& t : tensors) {
      detail::put_string(payload, t.name);
      detail::put_le(payload, static_cast<std::uint64_t>(t.value.rows()), 4);
      detail::put_le(payload, static_cast<std::uint64_t>(t.value.cols()), 4);
      detail::put_le(payload, sizeof(S), 4);
      const auto* bytes = reinterpret_cast<const char*>(t.value.data());
      payload.append(bytes, sizeof(S) * static_cast<std::size_t>(t.value.size()));  // LE hosts
    }
    add_section(2, name, payload);
  }

  // The sections added so far, in order.
  const std::vector<std::string>& section_names() const { return names_; }

  // The finished file's bytes.
  std::string finish(const char (&magic)[9], std::uint32_t version) const {
    std::string out(magic, 8);
    detail::put_le(out, version, 4);
    detail::put_le(out, 0, 4);
    detail::put_le(out, 8 + 4 + 4 + 8 + 4 + body_.size() + 4, 8);
    detail::put_le(out, sections_, 4);
    out += body_;
    detail::put_le(out, detail::crc32_of(out.data(), out.size()), 4);
    return out;
  }

  void write(const std::filesystem::path& path, const char (&magic)[9], std::uint32_t version) const {
    write_file_atomically(path, finish(magic, version));
  }

 private:
  void add_section(std::uint32_t kind, const std::string& name, const std::string& payload) {
    // (the reader refuses a file with two: it would be written and never read)
    detail::require<RuntimeError>(std::find(names_.begin(), names_.end(), name) == names_.end(), "the section '",
                                  name, "' is written twice");
    names_.push_back(name);
    detail::put_le(body_, kind, 4);
    detail::put_string(body_, name);
    detail::put_le(body_, payload.size(), 8);
    body_ += payload;
    ++sections_;
  }

  std::string body_;
  std::uint32_t sections_ = 0;
  std::vector<std::string> names_;
};

class ContainerReader {
 public:
  // `what` names the kind of file in messages ("model file"); `other_magics` maps the magic of a
  // sibling format to its name, so a checkpoint passed as a model says what it is instead.
  ContainerReader(std::string bytes, std::string path, const char (&magic)[9],
                  std::uint32_t max_version, std::string what,
                  const std::map<std::string, std::string>& other_magics = {})
      : bytes_(std::move(bytes)), path_(std::move(path)), what_(std::move(what)) {
    check_header(magic, max_version, other_magics);
    parse_sections();
  }

  static ContainerReader open(const std::filesystem::path& path, const char (&magic)[9],
                              std::uint32_t max_version, const std::string& what,
                              const std::map<std::string, std::string>& other_magics = {}) {
    // The magic first, from 8 bytes: a large file of another kind is refused without reading it.
    check_magic(read_file_start(path, 8), path.string(), magic, what, other_magics);
    return ContainerReader(read_text_file(path), path.string(), magic, max_version, what,
                           other_magics);
  }

  std::uint32_t version() const { return version_; }
  const std::string& path() const { return path_; }
  bool has(const std::string& name) const { return texts_.count(name) + tensors_.count(name) > 0; }

  const TextSection& text(const std::string& name) const {
    const auto it = texts_.find(name);
    if (it == texts_.end()) fail("has no '", name, "' section");
    return it->second;
  }

  // A text entry, or an error naming the section and key.
  const std::string& value(const std::string& section, const std::string& key) const {
    const TextSection& t = text(section);
    const auto it = t.find(key);
    if (it == t.end()) fail("has no '", key, "' entry in its '", section, "' section");
    return it->second;
  }

  // Tensors of a section converted to S (files store float or double).
  template <class S>
  StateDict<S> tensors(const std::string& name) const {
    const auto it = tensors_.find(name);
    if (it == tensors_.end()) fail("has no '", name, "' section");
    StateDict<S> out;
    for (const RawTensor& t : it->second) {
      const char* data = bytes_.data() + t.offset;
      Matrix<S> m(t.rows, t.cols);
      for (Index i = 0; i < m.size(); ++i) {
        if (t.scalar_bytes == 4) {
          float f;
          std::memcpy(&f, data + 4 * i, 4);
          m.data()[i] = static_cast<S>(f);
        } else {
          double d;
          std::memcpy(&d, data + 8 * i, 8);
          m.data()[i] = static_cast<S>(d);
        }
      }
      out.push_back({t.name, std::move(m)});
    }
    return out;
  }

  struct TensorShape {
    std::string name;
    Index rows, cols;
  };
  // Names and shapes of a tensor section, without reading (or allocating for) the values.
  std::vector<TensorShape> tensor_shapes(const std::string& name) const {
    const auto it = tensors_.find(name);
    if (it == tensors_.end()) fail("has no '", name, "' section");
    std::vector<TensorShape> shapes;
    for (const RawTensor& t : it->second) shapes.push_back({t.name, t.rows, t.cols});
    return shapes;
  }

  template <class... Args>
  [[noreturn]] void fail(Args&&... args) const {
    detail::fail<IoError>("'", path_, "' ", std::forward<Args>(args)...);
  }

 private:
  struct RawTensor {
    std::string name;
    Index rows, cols;
    std::uint32_t scalar_bytes;
    std::size_t offset;  // of the data in bytes_
  };

  std::uint64_t get(std::size_t& at, int bytes, const char* field) const {
    if (at + static_cast<std::size_t>(bytes) > end_) fail("is malformed: ", field, " runs past the end");
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) {
      v |= std::uint64_t{static_cast<unsigned char>(bytes_[at + static_cast<std::size_t>(i)])} << (8 * i);
    }
    at += static_cast<std::size_t>(bytes);
    return v;
  }
  std::string get_string(std::size_t& at, const char* field) const {
    const std::uint64_t n = get(at, 4, field);
    if (n > end_ - at) fail("is malformed: ", field, " of ", n, " bytes runs past the end");
    std::string s = bytes_.substr(at, n);
    at += n;
    return s;
  }

  // Throws unless `head` (the file's first bytes) is `magic`, naming a sibling format it matches.
  static void check_magic(const std::string& head, const std::string& path, const char (&magic)[9],
                          const std::string& what,
                          const std::map<std::string, std::string>& other_magics) {
    if (head == std::string(magic, 8)) return;
    const auto other = other_magics.find(head.substr(0, 8));
    if (other != other_magics.end()) {
      detail::fail<IoError>("'", path, "' is ", other->second, ", not ", what);
    }
    detail::fail<IoError>("'", path, "' is not ", what,
                          ": it does not start with the magic bytes \"", magic, "\"");
  }

  void check_header(const char (&magic)[9], std::uint32_t max_version,
                    const std::map<std::string, std::string>& other_magics) {
    check_magic(bytes_.substr(0, 8), path_, magic, what_, other_magics);
    end_ = bytes_.size();
    constexpr std::size_t header = 8 + 4 + 4 + 8 + 4;
    if (bytes_.size() < header + 4) fail("is truncated: ", bytes_.size(), " bytes is too short for ", what_);
    std::size_t at = 8;
    version_ = static_cast<std::uint32_t>(get(at, 4, "version"));
    if (version_ == 0) {  // no mlp ever wrote it: the file is damaged, not from the future
      fail("has an invalid format version 0 (this build reads versions 1 to ", max_version, ")");
    }
    if (version_ > max_version) {
      fail("was written by a newer version of mlp (format version ", version_,
           "; this build reads versions 1 to ", max_version, ")");
    }
    const std::uint64_t reserved = get(at, 4, "reserved");
    const std::uint64_t declared = get(at, 8, "length");
    if (declared > bytes_.size()) {
      fail("is truncated: its header declares ", declared, " bytes, but the file has ",
           bytes_.size());
    }
    if (declared < bytes_.size()) {
      fail("has ", bytes_.size() - declared, " unexpected bytes after the ", declared,
           " its header declares");
    }
    std::size_t crc_at = bytes_.size() - 4;
    end_ = bytes_.size();
    const auto stored = static_cast<std::uint32_t>(get(crc_at, 4, "checksum"));
    const std::uint32_t computed = detail::crc32_of(bytes_.data(), bytes_.size() - 4);
    if (stored != computed) {
      fail("is corrupt: checksum mismatch (stored ", stored, ", computed ", computed, ")");
    }
    // (mlp writes 0; an intact file with another value is not one this build knows how to read)
    if (reserved != 0) fail("has a non-zero reserved header field (", reserved, "): mlp writes 0 there");
    end_ = bytes_.size() - 4;
    sections_at_ = at;
  }

  void parse_sections() {
    std::size_t at = sections_at_;
    const std::uint64_t count = get(at, 4, "section count");
    for (std::uint64_t s = 0; s < count; ++s) {
      const std::uint64_t kind = get(at, 4, "section kind");
      const std::string name = get_string(at, "section name");
      const std::uint64_t size = get(at, 8, "section size");
      if (size > end_ - at) fail("is malformed: section '", name, "' runs past the end");
      const std::size_t section_end = at + size;
      const std::size_t saved_end = end_;
      end_ = section_end;
      // A name given twice would leave which copy counts to the reader (the writer never repeats one).
      if (texts_.count(name) != 0 || tensors_.count(name) != 0) fail("is malformed: section '", name, "' appears twice");
      if (kind == 1) {
        TextSection& t = texts_[name];
        const std::uint64_t n = get(at, 4, "entry count");
        for (std::uint64_t i = 0; i < n; ++i) {
          std::string key = get_string(at, "key");
          if (t.count(key) != 0) fail("is malformed: section '", name, "' has the entry '", key, "' twice");
          t[key] = get_string(at, "value");
        }
      } else if (kind == 2) {
        auto& list = tensors_[name];
        std::set<std::string> names;
        const std::uint64_t n = get(at, 4, "tensor count");
        for (std::uint64_t i = 0; i < n; ++i) {
          RawTensor t;
          t.name = get_string(at, "tensor name");
          t.rows = static_cast<Index>(get(at, 4, "rows"));
          t.cols = static_cast<Index>(get(at, 4, "cols"));
          t.scalar_bytes = static_cast<std::uint32_t>(get(at, 4, "scalar size"));
          if (t.scalar_bytes != 4 && t.scalar_bytes != 8) {
            fail("is malformed: tensor '", t.name, "' has ", t.scalar_bytes, "-byte scalars");
          }
          const std::uint64_t room = (end_ - at) / t.scalar_bytes;
          if (t.rows != 0 && static_cast<std::uint64_t>(t.cols) > room / static_cast<std::uint64_t>(t.rows)) {
            fail("is malformed: tensor '", t.name, "' of ", t.rows, " x ", t.cols,
                 " runs past its section");
          }
          t.offset = at;
          at += static_cast<std::size_t>(t.rows * t.cols) * t.scalar_bytes;
          if (!names.insert(t.name).second) fail("is malformed: section '", name, "' has the tensor '", t.name, "' twice");
          list.push_back(std::move(t));
        }
      } else {
        fail("is malformed: section '", name, "' has unknown kind ", kind);
      }
      if (at != section_end) fail("is malformed: section '", name, "' has trailing bytes");
      end_ = saved_end;
    }
    if (at != end_) fail("is malformed: ", end_ - at, " bytes after the last section");
  }

  std::string bytes_;
  std::string path_;
  std::string what_;
  std::uint32_t version_ = 0;
  std::size_t end_ = 0;
  std::size_t sections_at_ = 0;
  std::map<std::string, TextSection> texts_;
  std::map<std::string, std::vector<RawTensor>> tensors_;
};

}  // namespace mlp
