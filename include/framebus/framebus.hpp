#pragma once
/// @file framebus.hpp
/// Zero-copy shared-memory channels for video frames and tensors between processes.

#include "framebus/admin.hpp"
#include "framebus/classifier.hpp"
#include "framebus/consumer.hpp"
#include "framebus/decoder.hpp"
#include "framebus/error.hpp"
#include "framebus/inference_backend.hpp"
#include "framebus/message.hpp"
#include "framebus/options.hpp"
#include "framebus/producer.hpp"
#include "framebus/version.hpp"
