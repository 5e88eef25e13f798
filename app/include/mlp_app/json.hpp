// A small JSON value with a writer and a strict parser, for run summaries (summary.json) that
// programs write and read back. Objects keep their insertion order; numbers are doubles; NaN and
// infinities are written as null (JSON has no such numbers).
#pragma once

#include "mlp/core/errors.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

namespace mlp::app {

class Json {
 public:
  enum class Type { Null, Bool, Number, String, Array, Object };

  Json() = default;
  Json(std::nullptr_t) {}
  Json(bool b) : type_(Type::Bool), bool_(b) {}
  Json(double d) : type_(Type::Number), number_(d) {}
  Json(int i) : Json(static_cast<double>(i)) {}
  Json(long i) : Json(static_cast<double>(i)) {}
  Json(long long i) : Json(static_cast<double>(i)) {}
  Json(unsigned long i) : Json(static_cast<double>(i)) {}
  Json(unsigned long long i) : Json(static_cast<double>(i)) {}
  Json(std::string s) : type_(Type::String), string_(std::move(s)) {}
  Json(const char* s) : Json(std::string(s)) {}

  static Json array() {
    Json j;
    j.type_ = Type::Array;
    return j;
  }
  static Json object() {
    Json j;
    j.type_ = Type::Object;
    return j;
  }
  template <class T>
  static Json array_of(const std::vector<T>& items) {
    Json j = array();
    for (const auto& item : items) j.push_back(Json(item));
    return j;
  }

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::Null; }
  bool is_object() const { return type_ == Type::Object; }

  // Object access; operator[] inserts a null member when the key is new.
  Json& operator[](const std::string& key) {
    if (type_ == Type::Null) type_ = Type::Object;
    expect(Type::Object, "object");
    for (auto& [k, v] : members_) {
      if (k == key) return v;
    }
    members_.push_back({key, Json()});
    return members_.back().second;
  }
  const Json& at(const std::string& key) const {
    expect(Type::Object, "object");
    for (const auto& [k, v] : members_) {
      if (k == key) return v;
    }
    detail::fail("JSON object has no member '", key, "'");
  }
  bool contains(const std::string& key) const {
    if (type_ != Type::Object) return false;
    for (const auto& m : members_) {
      if (m.first == key) return true;
    }
    return false;
  }
  const std::vector<std::pair<std::string, Json>>& members() const { return members_; }

  void push_back(Json value) {
    if (type_ == Type::Null) type_ = Type::Array;
    expect(Type::Array, "array");
    elements_.push_back(std::move(value));
  }
  const std::vector<Json>& elements() const {
    expect(Type::Array, "array");
    return elements_;
  }
  std::size_t size() const { return type_ == Type::Array ? elements_.size() : members_.size(); }

  double number() const {
    if (type_ == Type::Null) return std::nan("");  // how NaN was written
    expect(Type::Number, "number");
    return number_;
  }
  // The number as an integer, which has to be whole and within [min, max] (a cast of an arbitrary
  // double to an integer type would be undefined behaviour for out-of-range values).
  long long integer(long long min, long long max) const {
    const double d = number();
    detail::require(std::isfinite(d) && d == std::floor(d) && d >= static_cast<double>(min) &&
                        d <= static_cast<double>(max),
                    "JSON number ", d, " is not a whole number from ", min, " to ", max);
    return static_cast<long long>(d);
  }
  const std::string& string() const {
    expect(Type::String, "string");
    return string_;
  }
  bool boolean() const {
    expect(Type::Bool, "boolean");
    return bool_;
  }

  bool operator==(const Json& o) const {
    if (type_ != o.type_) return false;
    switch (type_) {
      case Type::Null: return true;
      case Type::Bool: return bool_ == o.bool_;
      case Type::Number: return number_ == o.number_;
      case Type::String: return string_ == o.string_;
      case Type::Array: return elements_ == o.elements_;
      case Type::Object: return members_ == o.members_;
    }
    return false;
  }
  bool operator!=(const Json& o) const { return !(*this == o); }

  // Pretty-printed with `indent` spaces per level (0: one line).
  std::string dump(int indent = 2) const {
    std::string out;
    write(out, indent, 0);
    return out;
  }

  static Json parse(const std::string& text) {
    std::size_t at = 0;
    Json value = parse_value(text, at, 0);
    skip_space(text, at);
    if (at != text.size()) parse_error(text, at, "unexpected text after the value");
    return value;
  }

 private:
  void expect(Type t, const char* what) const {
    detail::require(type_ == t, "JSON value is not a", (what[0] == 'a' || what[0] == 'o') ? "n " : " ", what);
  }

  static void write_string(std::string& out, const std::string& s) {
    out += '"';
    for (const char c : s) {
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
          if (static_cast<unsigned char>(c) < 0x20) {
            char u[8];
            std::snprintf(u, sizeof u, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
            out += u;
          } else {
            out += c;
          }
      }
    }
    out += '"';
  }

  static void write_number(std::string& out, double d) {
    if (!std::isfinite(d)) {
      out += "null";
      return;
    }
    char text[40];
    for (int precision = 15; precision <= 17; ++precision) {  // shortest that reads back exactly
      std::snprintf(text, sizeof text, "%.*g", precision, d);
      if (std::strtod(text, nullptr) == d) break;
    }
    out += text;
  }

  void write(std::string& out, int indent, int depth) const {
    const std::string pad = indent > 0 ? "\n" + std::string(static_cast<std::size_t>(indent * (depth + 1)), ' ') : "";
    const std::string close = indent > 0 ? "\n" + std::string(static_cast<std::size_t>(indent * depth), ' ') : "";
    switch (type_) {
      case Type::Null: out += "null"; break;
      case Type::Bool: out += bool_ ? "true" : "false"; break;
      case Type::Number: write_number(out, number_); break;
      case Type::String: write_string(out, string_); break;
      case Type::Array: {
        // Arrays of plain numbers stay on one line: curves and confusion rows read better so.
        bool flat = true;
        for (const auto& e : elements_) flat = flat && (e.type_ == Type::Number || e.type_ == Type::Null);
        out += '[';
        for (std::size_t i = 0; i < elements_.size(); ++i) {
          if (i > 0) out += flat ? ", " : ",";
          if (!flat) out += pad;
          elements_[i].write(out, indent, depth + 1);
        }
        if (!flat && !elements_.empty()) out += close;
        out += ']';
        break;
      }
      case Type::Object:
        out += '{';
        for (std::size_t i = 0; i < members_.size(); ++i) {
          if (i > 0) out += ',';
          out += pad;
          write_string(out, members_[i].first);
          out += indent > 0 ? ": " : ":";
          members_[i].second.write(out, indent, depth + 1);
        }
        if (!members_.empty()) out += close;
        out += '}';
        break;
    }
  }

  [[noreturn]] static void parse_error(const std::string& text, std::size_t at, const char* what) {
    std::size_t line = 1, column = 1;
    for (std::size_t i = 0; i < at && i < text.size(); ++i) {
      if (text[i] == '\n') ++line, column = 1;
      else ++column;
    }
    detail::fail("invalid JSON at line ", line, ", column ", column, ": ", what);
  }
  static void skip_space(const std::string& t, std::size_t& at) {
    while (at < t.size() && (t[at] == ' ' || t[at] == '\n' || t[at] == '\r' || t[at] == '\t')) ++at;
  }
  static bool consume(const std::string& t, std::size_t& at, const char* word) {
    const std::size_t n = std::char_traits<char>::length(word);
    if (t.compare(at, n, word) != 0) return false;
    at += n;
    return true;
  }

  static Json parse_value(const std::string& t, std::size_t& at, int depth) {
    if (depth > 200) parse_error(t, at, "nested too deeply");
    skip_space(t, at);
    if (at >= t.size()) parse_error(t, at, "unexpected end");
    const char c = t[at];
    if (c == '{') return parse_object(t, at, depth);
    if (c == '[') return parse_array(t, at, depth);
    if (c == '"') return Json(parse_string(t, at));
    if (consume(t, at, "true")) return Json(true);
    if (consume(t, at, "false")) return Json(false);
    if (consume(t, at, "null")) return Json();
    if (c == '-' || (c >= '0' && c <= '9')) return Json(parse_number(t, at));
    parse_error(t, at, "unexpected character");
  }

  // JSON's number grammar exactly: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? (no hex, no inf,
  // no nan, no leading '+'), and finite.
  static double parse_number(const std::string& t, std::size_t& at) {
    const std::size_t start = at;
    auto digits = [&] {
      const std::size_t from = at;
      while (at < t.size() && t[at] >= '0' && t[at] <= '9') ++at;
      return at - from;
    };
    if (t[at] == '-') ++at;
    if (at < t.size() && t[at] == '0') {
      ++at;
    } else if (digits() == 0) {
      parse_error(t, start, "bad number");
    }
    if (at < t.size() && t[at] == '.') {
      ++at;
      if (digits() == 0) parse_error(t, start, "bad number");
    }
    if (at < t.size() && (t[at] == 'e' || t[at] == 'E')) {
      ++at;
      if (at < t.size() && (t[at] == '+' || t[at] == '-')) ++at;
      if (digits() == 0) parse_error(t, start, "bad number");
    }
    const double d = std::strtod(t.substr(start, at - start).c_str(), nullptr);
    if (!std::isfinite(d)) parse_error(t, start, "number out of range");
    return d;
  }

  static std::string parse_string(const std::string& t, std::size_t& at) {
    ++at;  // opening quote
    std::string s;
    while (at < t.size() && t[at] != '"') {
      char c = t[at++];
      if (c == '\\') {
        if (at >= t.size()) break;
        const char e = t[at++];
        switch (e) {
          case 'n': c = '\n'; break;
          case 't': c = '\t'; break;
          case 'r': c = '\r'; break;
          case 'b': c = '\b'; break;
          case 'f': c = '\f'; break;
          case '/': case '\\': case '"': c = e; break;
          case 'u': {
            if (at + 4 > t.size()) parse_error(t, at, "bad \\u escape");
            const unsigned long code = std::strtoul(t.substr(at, 4).c_str(), nullptr, 16);
            at += 4;
            if (code < 0x80) {
              c = static_cast<char>(code);
            } else if (code < 0x800) {
              s += static_cast<char>(0xc0 | (code >> 6));
              c = static_cast<char>(0x80 | (code & 0x3f));
            } else {
              s += static_cast<char>(0xe0 | (code >> 12));
              s += static_cast<char>(0x80 | ((code >> 6) & 0x3f));
              c = static_cast<char>(0x80 | (code & 0x3f));
            }
            break;
          }
          default: parse_error(t, at, "bad escape");
        }
      }
      s += c;
    }
    if (at >= t.size()) parse_error(t, at, "unterminated string");
    ++at;  // closing quote
    return s;
  }

  static Json parse_array(const std::string& t, std::size_t& at, int depth) {
    Json a = array();
    ++at;
    skip_space(t, at);
    if (at < t.size() && t[at] == ']') return ++at, a;
    for (;;) {
      a.push_back(parse_value(t, at, depth + 1));
      skip_space(t, at);
      if (at < t.size() && t[at] == ',') {
        ++at;
        continue;
      }
      if (at < t.size() && t[at] == ']') return ++at, a;
      parse_error(t, at, "expected ',' or ']'");
    }
  }

  static Json parse_object(const std::string& t, std::size_t& at, int depth) {
    Json o = object();
    ++at;
    skip_space(t, at);
    if (at < t.size() && t[at] == '}') return ++at, o;
    for (;;) {
      skip_space(t, at);
      if (at >= t.size() || t[at] != '"') parse_error(t, at, "expected a member name");
      const std::string key = parse_string(t, at);
      skip_space(t, at);
      if (at >= t.size() || t[at] != ':') parse_error(t, at, "expected ':'");
      ++at;
      o[key] = parse_value(t, at, depth + 1);
      skip_space(t, at);
      if (at < t.size() && t[at] == ',') {
        ++at;
        continue;
      }
      if (at < t.size() && t[at] == '}') return ++at, o;
      parse_error(t, at, "expected ',' or '}'");
    }
  }

  Type type_ = Type::Null;
  bool bool_ = false;
  double number_ = 0.0;
  std::string string_;
  std::vector<Json> elements_;
  std::vector<std::pair<std::string, Json>> members_;
};

}  // namespace mlp::app
