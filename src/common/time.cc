#include "common/time.h"

#include <algorithm>
#include <cstdio>
#include <iterator>

namespace veil {
namespace {

using std::chrono::days;
using std::chrono::floor;
using std::chrono::nanoseconds;
using std::chrono::seconds;

struct Civil {
  int year, month, day, hour, minute, second;
  int64_t nanos;  // within the second, [0, 1e9)
};

Civil ToCivil(TimePoint t) {
  auto ns = std::chrono::time_point_cast<nanoseconds>(t);
  auto day = floor<days>(ns);
  std::chrono::year_month_day ymd{day};
  std::chrono::hh_mm_ss<nanoseconds> hms{ns - day};
  Civil c;
  c.year = static_cast<int>(ymd.year());
  c.month = static_cast<int>(static_cast<unsigned>(ymd.month()));
  c.day = static_cast<int>(static_cast<unsigned>(ymd.day()));
  c.hour = static_cast<int>(hms.hours().count());
  c.minute = static_cast<int>(hms.minutes().count());
  c.second = static_cast<int>(hms.seconds().count());
  c.nanos = hms.subseconds().count();
  return c;
}

std::string FormatDateTime(const Civil& c) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d", c.year, c.month, c.day, c.hour,
                c.minute, c.second);
  return buf;
}

// Appends the first `digits` digits of the 9-digit nanosecond fraction.
void AppendFraction(std::string* out, int64_t nanos, int digits) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%09lld", static_cast<long long>(nanos));
  out->push_back('.');
  out->append(buf, static_cast<size_t>(digits));
}

// A cursor over the text being parsed.
class Scanner {
 public:
  explicit Scanner(std::string_view text) : text_(text) {}

  bool Digits(int count, int* out) {
    if (pos_ + static_cast<size_t>(count) > text_.size()) return false;
    int v = 0;
    for (int i = 0; i < count; ++i) {
      char c = text_[pos_ + static_cast<size_t>(i)];
      if (c < '0' || c > '9') return false;
      v = v * 10 + (c - '0');
    }
    pos_ += static_cast<size_t>(count);
    *out = v;
    return true;
  }
  bool Char(char expected) {
    if (pos_ >= text_.size() || text_[pos_] != expected) return false;
    ++pos_;
    return true;
  }
  bool CharEither(char a, char b) { return Char(a) || Char(b); }
  char Peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  bool AtEnd() const { return pos_ == text_.size(); }
  // Reads 1..max_digits digits as a nanosecond fraction.
  bool Fraction(int max_digits, int min_digits, int64_t* nanos) {
    int64_t v = 0;
    int n = 0;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      if (n == max_digits) return false;
      v = v * 10 + (text_[pos_] - '0');
      ++n;
      ++pos_;
    }
    if (n < min_digits) return false;
    for (int i = n; i < 9; ++i) v *= 10;
    *nanos = v;
    return true;
  }

 private:
  std::string_view text_;
  size_t pos_ = 0;
};

Result<TimePoint> FromCivil(const Civil& c, int offset_minutes, std::string_view what) {
  if (c.month < 1 || c.month > 12) return InvalidArgument(std::string(what) + ": invalid month");
  std::chrono::year_month_day ymd{std::chrono::year{c.year},
                                  std::chrono::month{static_cast<unsigned>(c.month)},
                                  std::chrono::day{static_cast<unsigned>(c.day)}};
  if (!ymd.ok()) return InvalidArgument(std::string(what) + ": invalid day of month");
  if (c.hour > 23 || c.minute > 59 || c.second > 59) {
    return InvalidArgument(std::string(what) + ": invalid time of day");
  }
  // In whole seconds first: a year such as 9999 is beyond what a TimePoint (64-bit nanoseconds,
  // about 1677-09-21 to 2262-04-11) holds, and converting it would overflow.
  const std::chrono::sys_seconds utc = std::chrono::sys_days{ymd} + std::chrono::hours{c.hour} +
                                       std::chrono::minutes{c.minute} + seconds{c.second} -
                                       std::chrono::minutes{offset_minutes};
  constexpr int64_t kFirst =
      std::chrono::duration_cast<seconds>(TimePoint::min().time_since_epoch()).count() + 1;
  constexpr int64_t kLast =
      std::chrono::duration_cast<seconds>(TimePoint::max().time_since_epoch()).count() - 1;
  const int64_t s = utc.time_since_epoch().count();
  if (s < kFirst || s > kLast) {
    return InvalidArgument(std::string(what) + ": the year is outside 1678-2261");
  }
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(seconds{s}) +
                   std::chrono::duration_cast<TimePoint::duration>(nanoseconds{c.nanos}));
}

bool ParseDateTime(Scanner& s, Civil* c) {
  return s.Digits(4, &c->year) && s.Char('-') && s.Digits(2, &c->month) && s.Char('-') &&
         s.Digits(2, &c->day) && s.CharEither('T', 't') && s.Digits(2, &c->hour) && s.Char(':') &&
         s.Digits(2, &c->minute) && s.Char(':') && s.Digits(2, &c->second);
}

}  // namespace

std::string FormatRfc3339(TimePoint t, TimePrecision precision) {
  Civil c = ToCivil(t);
  std::string out = FormatDateTime(c);
  switch (precision) {
    case TimePrecision::kSeconds:
      break;
    case TimePrecision::kMillis:
      AppendFraction(&out, c.nanos, 3);
      break;
    case TimePrecision::kMicros:
      AppendFraction(&out, c.nanos, 6);
      break;
    case TimePrecision::kNanos:
      AppendFraction(&out, c.nanos, 9);
      break;
  }
  out.push_back('Z');
  return out;
}

std::string FormatRfc3339Seconds(TimePoint t) { return FormatRfc3339(t, TimePrecision::kSeconds); }

Result<TimePoint> ParseRfc3339(std::string_view text) {
  constexpr std::string_view kWhat = "RFC 3339 time";
  Scanner s(text);
  Civil c{};
  c.nanos = 0;
  if (!ParseDateTime(s, &c)) {
    return InvalidArgument("RFC 3339 time: expected YYYY-MM-DDThh:mm:ss[.fraction](Z|+hh:mm)");
  }
  if (s.Char('.') && !s.Fraction(9, 1, &c.nanos)) {
    return InvalidArgument("RFC 3339 time: fraction must have 1 to 9 digits");
  }
  int offset = 0;
  if (s.CharEither('Z', 'z')) {
    offset = 0;
  } else {
    const char sign = s.Peek();
    int oh = 0, om = 0;
    if (!(s.CharEither('+', '-') && s.Digits(2, &oh) && s.Char(':') && s.Digits(2, &om))) {
      return InvalidArgument("RFC 3339 time: expected Z or a +hh:mm offset");
    }
    if (oh > 23 || om > 59) return InvalidArgument("RFC 3339 time: invalid offset");
    offset = (oh * 60 + om) * (sign == '-' ? -1 : 1);
  }
  if (!s.AtEnd()) return InvalidArgument("RFC 3339 time: trailing characters");
  return FromCivil(c, offset, kWhat);
}

std::string FormatAuditTime(TimePoint t) {
  Civil c = ToCivil(t);
  std::string out = FormatDateTime(c);
  AppendFraction(&out, c.nanos, 2);
  out += "+0000";
  return out;
}

Result<TimePoint> ParseAuditTime(std::string_view text) {
  Scanner s(text);
  Civil c{};
  int oh = 0, om = 0;
  const bool ok = ParseDateTime(s, &c) && s.Char('.') && s.Fraction(2, 2, &c.nanos);
  const char sign = s.Peek();
  if (!ok || !(s.CharEither('+', '-') && s.Digits(2, &oh) && s.Digits(2, &om)) || !s.AtEnd()) {
    return InvalidArgument("audit time: expected YYYY-MM-DDThh:mm:ss.SS+hhmm");
  }
  if (oh > 23 || om > 59) return InvalidArgument("audit time: invalid offset");
  return FromCivil(c, (oh * 60 + om) * (sign == '-' ? -1 : 1), "audit time");
}

std::string FormatHttpDate(TimePoint t) {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const Civil c = ToCivil(t);
  const unsigned weekday = std::chrono::weekday{floor<days>(t)}.c_encoding();  // 0 = Sunday
  // Formatted by hand: strftime's %a and %b follow the locale, the header must not.
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[weekday % 7], c.day,
                kMonths[(c.month - 1) % 12], c.year, c.hour, c.minute, c.second);
  return buf;
}

Result<TimePoint> ParseHttpDate(std::string_view text) {
  static constexpr std::string_view kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  constexpr std::string_view kWhat = "HTTP date";
  // "Sun, 06 Nov 1994 08:49:37 GMT": 29 characters at fixed places.
  if (text.size() != 29 || text.substr(3, 2) != ", " || text[7] != ' ' || text[11] != ' ' ||
      text[16] != ' ' || text[19] != ':' || text[22] != ':' || text.substr(25) != " GMT" ||
      std::find(std::begin(kDays), std::end(kDays), text.substr(0, 3)) == std::end(kDays)) {
    return InvalidArgument("HTTP date: expected the form Sun, 06 Nov 1994 08:49:37 GMT");
  }
  auto month = std::find(std::begin(kMonths), std::end(kMonths), text.substr(8, 3));
  if (month == std::end(kMonths)) return InvalidArgument("HTTP date: invalid month");
  auto number = [&](size_t at, size_t n, int* out) {
    int v = 0;
    for (size_t i = at; i < at + n; ++i) {
      if (text[i] < '0' || text[i] > '9') return false;
      v = v * 10 + (text[i] - '0');
    }
    *out = v;
    return true;
  };
  Civil c{};
  c.month = static_cast<int>(month - std::begin(kMonths)) + 1;
  if (!number(5, 2, &c.day) || !number(12, 4, &c.year) || !number(17, 2, &c.hour) ||
      !number(20, 2, &c.minute) || !number(23, 2, &c.second)) {
    return InvalidArgument("HTTP date: expected digits");
  }
  return FromCivil(c, 0, kWhat);
}

std::string CurrentHttpDate() {
  thread_local int64_t cached_second = 0;
  thread_local std::string cached;
  const TimePoint now = std::chrono::system_clock::now();
  const int64_t second = floor<seconds>(now).time_since_epoch().count();
  if (second != cached_second || cached.empty()) {
    cached = FormatHttpDate(now);
    cached_second = second;
  }
  return cached;
}

}  // namespace veil
