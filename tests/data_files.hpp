// Writers of small IDX and CIFAR-10 files for the reader tests (valid ones, then broken on purpose).
#pragma once

#include <mlp/io/container.hpp>

#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <sys/resource.h>

namespace mlp_test {

using Bytes = std::vector<std::uint8_t>;

// Rewrites the declared length (bytes 16..23) and the trailing CRC-32 of an .mlp/.mlpckpt
// container, so a file changed on purpose gets past the integrity checks to the parser behind them.
inline void repair_container(std::string& bytes) {
  if (bytes.size() < 32) return;
  const std::uint64_t size = bytes.size();
  for (std::size_t i = 0; i < 8; ++i) bytes[16 + i] = static_cast<char>((size >> (8 * i)) & 0xffU);
  const std::uint32_t crc = mlp::detail::crc32_of(bytes.data(), bytes.size() - 4);
  for (std::size_t i = 0; i < 4; ++i) bytes[bytes.size() - 4 + i] = static_cast<char>((crc >> (8 * i)) & 0xffU);
}

inline void append_u32_be(Bytes& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(v >> shift));
}

// An IDX image file body: magic 0x803, count, rows, cols, then pixel bytes (pixel i = seed + i).
inline Bytes idx_images(std::uint32_t count, std::uint32_t rows, std::uint32_t cols,
                        std::uint8_t seed = 0) {
  Bytes b;
  append_u32_be(b, 0x00000803);
  append_u32_be(b, count);
  append_u32_be(b, rows);
  append_u32_be(b, cols);
  for (std::uint32_t i = 0; i < count * rows * cols; ++i) b.push_back(static_cast<std::uint8_t>(seed + i));
  return b;
}

inline Bytes idx_labels(const std::vector<int>& labels) {
  Bytes b;
  append_u32_be(b, 0x00000801);
  append_u32_be(b, static_cast<std::uint32_t>(labels.size()));
  for (int l : labels) b.push_back(static_cast<std::uint8_t>(l));
  return b;
}

inline void write_raw(const std::string& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

inline void write_gz(const std::string& path, const Bytes& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
}

// `size` bytes as a gzip file of one member, in memory.
inline Bytes gzip(const std::uint8_t* data, std::size_t size) {
  z_stream s{};
  deflateInit2(&s, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  Bytes out(deflateBound(&s, static_cast<uLong>(size)));
  s.next_in = const_cast<Bytef*>(data);
  s.avail_in = static_cast<uInt>(size);
  s.next_out = out.data();
  s.avail_out = static_cast<uInt>(out.size());
  deflate(&s, Z_FINISH);
  out.resize(s.total_out);
  deflateEnd(&s);
  return out;
}

inline Bytes read_raw(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

// A CIFAR-10 record: label byte then 3,072 pixel bytes (value = label * 10 + channel).
inline void append_cifar_record(Bytes& out, int label) {
  out.push_back(static_cast<std::uint8_t>(label));
  for (int c = 0; c < 3; ++c) {
    for (int i = 0; i < 1024; ++i) out.push_back(static_cast<std::uint8_t>(label * 10 + c));
  }
}

// A complete tiny FashionMNIST-style folder: `train` and `test` images of 4 x 3, ten classes.
inline void write_idx_dataset(const std::string& dir, int train, int test, bool gz = true) {
  auto write = [&](const std::string& name, const Bytes& b) {
    if (gz) write_gz(dir + "/" + name + ".gz", b);
    else write_raw(dir + "/" + name, b);
  };
  std::vector<int> train_labels, test_labels;
  for (int i = 0; i < train; ++i) train_labels.push_back(i % 10);
  for (int i = 0; i < test; ++i) test_labels.push_back((i * 3) % 10);
  write("train-images-idx3-ubyte", idx_images(static_cast<std::uint32_t>(train), 4, 3));
  write("train-labels-idx1-ubyte", idx_labels(train_labels));
  write("t10k-images-idx3-ubyte", idx_images(static_cast<std::uint32_t>(test), 4, 3, 7));
  write("t10k-labels-idx1-ubyte", idx_labels(test_labels));
}

// A complete tiny CIFAR-10 folder: five training batches of `per_batch` records and a test batch.
inline void write_cifar_dataset(const std::string& dir, int per_batch, int test) {
  for (int k = 1; k <= 5; ++k) {
    Bytes b;
    for (int i = 0; i < per_batch; ++i) append_cifar_record(b, (i + k) % 10);
    write_raw(dir + "/data_batch_" + std::to_string(k) + ".bin", b);
  }
  Bytes t;
  for (int i = 0; i < test; ++i) append_cifar_record(t, i % 10);
  write_raw(dir + "/test_batch.bin", t);
  std::ofstream meta(dir + "/batches.meta.txt");
  meta << "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n";
}

// How much the process's peak resident memory grew while `action` ran, in bytes (Linux; 0
// elsewhere). It shows that a reader refused a file without reading or allocating for all of it,
// which no message can show. Meaningful when the action would grow the peak by more than the
// margin between the current and the peak memory of the tests run before.
template <class Action>
std::uint64_t peak_memory_growth(Action action) {
#ifdef __linux__
  auto peak = [] {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return static_cast<std::uint64_t>(usage.ru_maxrss) * 1024;  // KiB on Linux
  };
  const std::uint64_t before = peak();
  action();
  return peak() - before;
#else
  action();
  return 0;
#endif
}

// A file of `size` bytes that starts with `head` and continues with zeros, without writing them
// (sparse), for tests of how much of a large file a reader touches.
inline void write_sparse(const std::string& path, const std::string& head, std::uint64_t size) {
  std::ofstream(path, std::ios::binary) << head;
  std::filesystem::resize_file(path, size);
}

}  // namespace mlp_test
