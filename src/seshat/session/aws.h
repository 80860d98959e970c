// Finds AWS credentials and region the way the AWS command-line tools do.
#pragma once
#include <string>

#include "seshat/session/settings.h"
#include "seshat/storage/s3_storage.h"

namespace seshat::session {

// Credentials: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, else the
// profile (S3 PROFILE, else AWS_PROFILE, else "default") in AWS_SHARED_CREDENTIALS_FILE or
// ~/.aws/credentials. Region: S3 REGION, else AWS_REGION, AWS_DEFAULT_REGION, the profile's
// region in AWS_CONFIG_FILE or ~/.aws/config, else us-east-1.
// Throws Error(kInvalidInput) naming where it looked if no credentials are found.
storage::S3Options s3_options(const Settings& settings);
// Attempts and backoff of every store request (SESHAT_S3_ATTEMPTS, SESHAT_S3_BACKOFF_MS).
storage::RetryOptions retry_options();

}  // namespace seshat::session
