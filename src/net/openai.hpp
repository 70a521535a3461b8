// The OpenAI-compatible API surface (pure, no I/O): strict parsing of /v1/completions and
// /v1/chat/completions requests, and builders for responses and stream chunks in exactly
// OpenAI's field shapes.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace dgrid::net {

struct ChatMessage {
  std::string role;  // system | developer | user | assistant
  std::string content;
};

struct CompletionRequest {
  bool chat = false;
  std::string model;
  std::string prompt;                 // /v1/completions
  std::vector<ChatMessage> messages;  // /v1/chat/completions; text parts joined with "\n"
  std::optional<uint32_t> max_tokens;  // max_completion_tokens wins over max_tokens
  std::optional<float> temperature;    // 0..2
  std::optional<float> top_p;          // (0,1]
  std::optional<uint32_t> top_k;       // extension; 0 = no top-k cut
  std::optional<uint64_t> seed;
  std::vector<std::string> stop;  // at most 4, none empty
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  std::optional<uint32_t> n;   // only 1 is accepted
};

// Parses a request body. Unknown fields are ignored (clients send many: user, metadata ...);
// fields whose supported values would change what is computed (n>1, logprobs, tools,
// response_format other than text, best_of>1, echo, suffix, logit_bias, non-zero penalties,
// audio) are rejected. Errc::invalid_argument with a message naming the field.
Result<CompletionRequest> parse_completion_request(std::string_view body, bool chat);

struct Usage {
  uint64_t prompt_tokens = 0;
  uint64_t completion_tokens = 0;
};

// {"prompt_tokens","completion_tokens","total_tokens"}
nlohmann::json usage_json(const Usage& u);

// finish_reason is "stop" or "length" (std::nullopt in a stream chunk before the last).
// `created` is Unix seconds; ids are "cmpl-..." / "chatcmpl-..." by convention.
nlohmann::json completion_response(std::string_view id, int64_t created, std::string_view model, std::string_view text,
                                   std::string_view finish_reason, const Usage& usage);
nlohmann::json chat_response(std::string_view id, int64_t created, std::string_view model, std::string_view content,
                             std::string_view finish_reason, const Usage& usage);

// Stream chunks. With include_usage every chunk carries "usage": null and a final
// usage_chunk() (choices: []) precedes "data: [DONE]", as OpenAI does.
nlohmann::json completion_chunk(std::string_view id, int64_t created, std::string_view model, std::string_view text,
                                std::optional<std::string_view> finish_reason, bool include_usage = false);
struct ChatDelta {
  std::optional<std::string> role;     // "assistant" in the first chunk
  std::optional<std::string> content;  // absent in a role-only or final chunk
};
nlohmann::json chat_chunk(std::string_view id, int64_t created, std::string_view model, const ChatDelta& delta,
                          std::optional<std::string_view> finish_reason, bool include_usage = false);
nlohmann::json usage_chunk(bool chat, std::string_view id, int64_t created, std::string_view model, const Usage& usage);

// GET /v1/models: {"object":"list","data":[{"id","object":"model","created","owned_by"}]}.
struct ModelEntry {
  std::string id;  // the human model name clients put in "model"
  int64_t created = 0;
  std::string owned_by = "dgrid";
};
nlohmann::json model_list(const std::vector<ModelEntry>& models);

}  // namespace dgrid::net
